"""`__any_of`: the same rows as `__in`, with the list sent as one array parameter."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db.models import Q

from apps.audit.actors import Actor
from apps.memories import services
from apps.memories.models import Link, LinkType, Memory

ACTOR = Actor.system("test")


def test_it_finds_the_same_links_as_in(space: Any) -> None:
    memories = [
        services.create_memory(space, ACTOR, content=f"Turn {n} of the talk.") for n in range(6)
    ]
    services.create_links(
        space,
        ACTOR,
        [(a.pk, b.pk, LinkType.NEXT_IN_TIME) for a, b in itertools.pairwise(memories)],
    )
    wanted = [memories[0].pk, memories[3].pk]
    links = Link.objects.for_space(space)

    def ends(condition: Q) -> list[tuple[Any, Any]]:
        return sorted(links.filter(condition).values_list("source_id", "target_id"))

    expected = ends(Q(source_id__in=wanted) | Q(target_id__in=wanted))
    assert len(expected) == 3
    assert ends(Q(source_id__any_of=wanted) | Q(target_id__any_of=wanted)) == expected
    # ids as text, as they come from a request, mean the same
    assert ends(Q(source_id__any_of=[str(pk) for pk in wanted])) == ends(Q(source_id__in=wanted))


def test_it_sends_the_whole_list_as_one_parameter(space: Any) -> None:
    ids = [services.create_memory(space, ACTOR, content=f"Fact {n}.").pk for n in range(40)]
    query = Memory.objects.for_space(space).filter(pk__any_of=ids)

    sql, params = query.query.sql_with_params()

    assert "= ANY(%s::uuid[])" in sql
    assert len(params) == 2  # the space, and the list
    assert set(query.values_list("pk", flat=True)) == set(ids)


def test_an_empty_list_matches_nothing(space: Any) -> None:
    services.create_memory(space, ACTOR, content="Alice likes green tea.")

    assert not Memory.objects.for_space(space).filter(pk__any_of=[]).exists()


def test_it_quotes_text_values_that_array_syntax_would_split(space: Any) -> None:
    awkward = ['Ana, "the boss"', "back\\slash", "{braces}", "NULL", "plain"]
    for subject in awkward:
        services.create_memory(space, ACTOR, content=f"About {subject}.", subject=subject)

    found = Memory.objects.for_space(space).filter(subject__any_of=awkward[:4])

    assert sorted(found.values_list("subject", flat=True)) == sorted(awkward[:4])


def test_it_matches_nothing_for_none_as_in_does(space: Any) -> None:
    memory = services.create_memory(space, ACTOR, content="Alice likes green tea.")
    memories = Memory.objects.for_space(space)

    assert list(memories.filter(pk__any_of=[None, memory.pk])) == [memory]
    assert not memories.filter(pk__any_of=[None]).exists()


def test_it_refuses_a_single_value_in_place_of_a_list(space: Any) -> None:
    memory = services.create_memory(space, ACTOR, content="Alice likes green tea.")

    # A string is iterable: taken as a list, its characters would be the values.
    with pytest.raises(TypeError, match="takes a list"):
        Memory.objects.for_space(space).filter(pk__any_of=str(memory.pk))
    with pytest.raises(TypeError, match="takes a list"):
        Memory.objects.for_space(space).filter(pk__any_of=memory.pk)
