"""Entity pages: the space's entities by how many memories mention them, and each
entity's memories; another space's entities are not found."""

from __future__ import annotations

from apps.consolidation import entities
from apps.memories import services
from apps.memories.models import Entity


def test_it_lists_entities_by_mentions_and_finds_them_by_name(viewer, space, actor):
    services.create_memories(
        space,
        actor,
        [
            {"content": "We met Tomás at the Lisbon office."},
            {"content": "The Lisbon office moved to a new street."},
            {"content": "Planning the #offsite agenda."},
        ],
    )
    entities.extract(space, actor)

    page = viewer.get(f"/s/{space.slug}/entities/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("Lisbon") < html.index("Tomás")  # two memories before one
    assert "offsite" in html

    found = viewer.get(f"/s/{space.slug}/entities/", {"q": "tom"})
    assert "Tomás" in found.content.decode() and "Lisbon" not in found.content.decode()
    topics = viewer.get(f"/s/{space.slug}/entities/", {"kind": "topic"}).content.decode()
    assert "offsite" in topics and "Lisbon" not in topics
    nothing = viewer.get(f"/s/{space.slug}/entities/", {"q": "zzz"})
    assert "No entity matches." in nothing.content.decode()


def test_an_entity_page_lists_the_memories_that_mention_it(
    viewer, space, actor, django_assert_max_num_queries
):
    rows = [{"content": f"Call {n} with the Lisbon office."} for n in range(5)]
    rows.append({"content": "Unrelated note about tea."})
    made = services.create_memories(space, actor, rows)
    entities.extract(space, actor)
    lisbon = Entity.objects.for_space(space).get(normalized_name=Entity.normalize("Lisbon"))

    with django_assert_max_num_queries(12):
        page = viewer.get(f"/s/{space.slug}/entities/{lisbon.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Mentioned in 5 memories" in html
    for memory in made[:5]:
        assert f"/s/{space.slug}/memories/{memory.pk}/" in html
    assert str(made[5].pk) not in html


def test_another_spaces_entity_is_not_found(viewer, space, outsider_space, actor):
    services.create_memory(outsider_space, actor, content="Secret plans for Porto.")
    entities.extract(outsider_space, actor)
    porto = Entity.objects.for_space(outsider_space).get()
    assert viewer.get(f"/s/{space.slug}/entities/{porto.pk}/").status_code == 404
    assert viewer.get(f"/s/{outsider_space.slug}/entities/").status_code == 404
