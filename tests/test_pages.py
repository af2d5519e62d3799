from __future__ import annotations

from apps.audit.models import AuditEvent
from apps.memories import services
from apps.memories.models import Entity, Memory, MemoryVersion
from apps.spaces.models import Space
from tests.conftest import events_for


def test_it_redirects_anonymous_visitors_to_the_login_page(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_login_page_renders_with_labels_and_local_htmx(client, db):
    response = client.get("/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username">' in html
    assert "/static/django_htmx/htmx" in html
    assert "cdn" not in html.lower()


def test_home_lists_only_the_users_spaces(client, alice, space, outsider_space, make_memory):
    make_memory("One.")
    client.force_login(alice)
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Home" in html
    assert "Outsider" not in html
    assert 'hx-headers=\'{"X-CSRFToken"' in html


def test_a_user_without_spaces_sees_a_helpful_empty_state(client, django_user_model):
    user = django_user_model.objects.create_user("bob", password="pw-bob-123456")
    client.force_login(user)
    response = client.get("/")
    assert "not a member of any space" in response.content.decode()


def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(admin)
    return client


def test_editing_a_memory_in_the_admin_goes_through_the_domain_layer(
    client, django_user_model, space, make_memory
):
    memory = make_memory("Old text.")
    client = admin_client(client, django_user_model)
    url = f"/admin/memories/memory/{memory.pk}/change/"
    form = client.get(url)
    assert form.status_code == 200

    response = client.post(
        url,
        {
            "content": "New text.",
            "kind": "fact",
            "subject": "",
            "agent": "",
            "session": "",
            "tags": "a,b",
            "metadata": "{}",
            "importance": "0.5",
            "confidence": "1.0",
            "expected_version": "1",
        },
    )

    assert response.status_code == 302
    fresh = Memory.objects.for_space(space).get(pk=memory.pk)
    assert (fresh.content, fresh.version, fresh.tags) == ("New text.", 2, ["a", "b"])
    v2 = MemoryVersion.objects.for_space(space).get(memory=memory, version=2)
    assert (v2.actor_label, v2.reason) == ("user:root", "edited in the admin")


def test_a_stale_admin_edit_is_refused_with_a_form_error(
    client, django_user_model, space, make_memory
):
    memory = make_memory("Old text.")
    client = admin_client(client, django_user_model)
    response = client.post(
        f"/admin/memories/memory/{memory.pk}/change/",
        {
            "content": "Overwrite.",
            "kind": "fact",
            "tags": "",
            "metadata": "{}",
            "importance": "0.5",
            "confidence": "1.0",
            "expected_version": "7",
        },
    )
    assert response.status_code == 200
    assert "Someone saved this memory" in response.content.decode()
    assert Memory.objects.for_space(space).get(pk=memory.pk).content == "Old text."


def test_it_records_who_edited_an_entity_in_the_admin(client, django_user_model, space):
    entity = Entity.objects.for_space(space).create(
        space=space, name="Lisbon", normalized_name="lisbon"
    )
    client = admin_client(client, django_user_model)

    response = client.post(
        f"/admin/memories/entity/{entity.pk}/change/",
        {"space": space.pk, "name": "Lisboa", "kind": "place", "aliases": "", "metadata": "{}"},
    )

    assert response.status_code == 302
    entity.refresh_from_db()
    assert (entity.name, entity.normalized_name, entity.kind) == ("Lisboa", "lisboa", "place")
    event = AuditEvent.objects.for_space(space).get(action="entity.update")
    assert (event.target_id, event.actor_label) == (str(entity.pk), "user:root")
    assert {"kind", "name"} <= set(event.summary["changed"])
    assert "Lisboa" not in str(event.summary)


def test_it_refuses_an_entity_name_taken_in_the_space_with_a_form_error(
    client, django_user_model, space, outsider_space
):
    entities = Entity.objects.for_space(space)
    entities.create(space=space, name="Porto", normalized_name="porto", kind="place")
    lisbon = entities.create(space=space, name="Lisbon", normalized_name="lisbon", kind="place")
    Entity.objects.for_space(outsider_space).create(
        space=outsider_space, name="Faro", normalized_name="faro", kind="place"
    )
    client = admin_client(client, django_user_model)
    change = f"/admin/memories/entity/{lisbon.pk}/change/"
    form = {"space": space.pk, "kind": "place", "aliases": "", "metadata": "{}"}

    taken = client.post(change, {**form, "name": " PORTO "})
    elsewhere = client.post(change, {**form, "name": "Faro"})

    assert taken.status_code == 200
    assert "already has an entity of this kind with this name" in taken.content.decode()
    assert elsewhere.status_code == 302  # another space's name is no clash
    assert sorted(entities.values_list("name", flat=True)) == ["Faro", "Porto"]
    assert events_for(space) == ["entity.update"]


def test_it_lets_a_superuser_delete_a_space_with_history_in_the_admin(
    client, django_user_model, space, outsider_space, actor, make_memory
):
    memory = make_memory()
    services.update_memory(space, actor, memory.pk, expected_version=1, content="Edited.")
    theirs = services.create_memory(outsider_space, actor, content="Outsider's note.")
    client = admin_client(client, django_user_model)
    delete = f"/admin/spaces/space/{space.pk}/delete/"

    confirm = client.get(delete)
    response = client.post(delete, {"post": "yes"})

    assert (confirm.status_code, response.status_code) == (200, 302)
    assert not Space.objects.filter(pk=space.pk).exists()
    for model in (Memory, MemoryVersion, AuditEvent):
        assert not model._base_manager.filter(space_id=space.pk).exists(), model
    assert Memory.objects.for_space(outsider_space).filter(pk=theirs.pk).exists()
    assert AuditEvent.objects.for_space(outsider_space).filter(target_id=str(theirs.pk)).exists()


def test_versions_and_audit_events_are_read_only_in_the_admin(
    client, django_user_model, space, make_memory
):
    memory = make_memory()
    client = admin_client(client, django_user_model)
    version = MemoryVersion.objects.for_space(space).get(memory=memory)
    assert client.get("/admin/memories/memoryversion/").status_code == 200
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/memories/memoryversion/add/").status_code == 403
    assert client.get(f"/admin/memories/memoryversion/{version.pk}/delete/").status_code == 403
    page = client.get(f"/admin/memories/memoryversion/{version.pk}/change/")
    assert page.status_code == 200
    assert 'name="content"' not in page.content.decode()


def test_every_model_has_an_admin_page(client, django_user_model, db):
    client = admin_client(client, django_user_model)
    Space.objects.create(slug="s", name="S")
    for path in [
        "spaces/space",
        "spaces/membership",
        "spaces/apitoken",
        "memories/memory",
        "memories/episode",
        "memories/link",
        "memories/entity",
        "memories/mention",
        "memories/memoryversion",
        "audit/auditevent",
    ]:
        assert client.get(f"/admin/{path}/").status_code == 200, path
