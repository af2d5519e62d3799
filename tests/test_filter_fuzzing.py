"""Property tests of search and filter parsing (hypothesis): whatever a client sends
as filters, the API and the memory browser answer without a 5xx, and every refusal of
the API has the error shape."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.memories.models import Kind, Memory, Status
from apps.retrieval.search import Filters, InvalidSearch
from apps.spaces.models import ApiToken, Membership, Role, Scope

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
FILTER_NAMES = [
    "subject", "agent", "session", "kind", "tags", "status",
    "occurred_after", "occurred_before", "created_after", "created_before",
]  # fmt: skip
# Text of every kind, lone surrogates and NUL included, and values that look right.
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from([*Kind.values, *Status.values, "2024-05-01", "2024-05-01T10:00:00Z", ""]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), texts
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
)
filter_bodies = st.dictionaries(st.one_of(st.sampled_from(FILTER_NAMES), texts), values, max_size=5)


def has_error_shape(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and {"code", "message", "details"} <= set(error)


@pytest.fixture
def reader(space: Any, make_memory: Any, settings: Any) -> APIClient:
    settings.API_RATE_LIMIT = (100_000, 60)
    make_memory("Maya runs on Sundays.", subject="maya", tags=["running"])
    _, raw = ApiToken.issue(space=space, name="fuzzer", scopes=[Scope.MEMORIES_READ])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_it_answers_any_search_filters_without_a_server_error(reader, hashing_backend):
    @FUZZ
    @given(
        filters=filter_bodies,
        mode=st.one_of(st.sampled_from(["text", "vector", "hybrid"]), texts),
        k=st.one_of(st.integers(-5, 500), texts),
        as_of=st.one_of(st.none(), texts),
        query=texts,
    )
    def check(filters: Any, mode: Any, k: Any, as_of: Any, query: Any) -> None:
        body: dict[str, Any] = {"query": query, "mode": mode, "k": k, "filters": filters}
        if as_of is not None:
            body["as_of"] = as_of
        response = reader.post("/api/v1/search", body, format="json")
        assert response.status_code < 500, (body, response.content[:300])
        if response.status_code >= 400:
            assert has_error_shape(response.json()), response.content[:300]
        else:
            assert {"hits", "query", "mode"} <= set(response.json())

    check()


def test_it_answers_any_list_query_without_a_server_error(reader):
    @FUZZ
    @given(st.dictionaries(st.one_of(st.sampled_from(FILTER_NAMES), texts), texts, max_size=4))
    def check(params: dict[str, str]) -> None:
        response = reader.get("/api/v1/memories", params)
        assert response.status_code < 500, (params, response.content[:300])
        if response.status_code >= 400:
            assert has_error_shape(response.json()), response.content[:300]

    check()


def test_the_memory_browser_answers_any_filters_with_a_page(space, alice, hashing_backend):
    Membership.objects.filter(user=alice).update(role=Role.VIEWER)
    client = Client()
    client.force_login(alice)
    names = ["q", "mode", "kind", "status", "subject", "agent", "session", "tag", "after", "before"]

    @FUZZ
    @given(st.dictionaries(st.sampled_from(names), texts, max_size=5))
    def check(params: dict[str, str]) -> None:
        response = client.get(f"/s/{space.slug}/", params)
        assert response.status_code in (200, 400), (params, response.status_code)

    check()


def test_filters_either_refuse_by_name_or_run(space, make_memory):
    make_memory("Maya runs on Sundays.", kind="fact")

    @FUZZ
    @given(
        kinds=st.lists(st.one_of(st.sampled_from(Kind.values), texts), max_size=3),
        statuses=st.lists(st.one_of(st.sampled_from(Status.values), texts), max_size=3),
        tags=st.lists(texts, max_size=3),
        subject=st.one_of(st.none(), texts),
    )
    def check(kinds: list[str], statuses: list[str], tags: list[str], subject: Any) -> None:
        filters = Filters(subject=subject, kinds=kinds, statuses=statuses, tags=tags)
        try:
            rows = filters.apply(Memory.objects.for_space(space))
        except InvalidSearch as refused:
            assert set(refused.details) <= {"kind", "status"}
            assert any(k not in Kind.values for k in kinds) or any(
                s not in Status.values for s in statuses
            )
            return
        assert all(k in Kind.values for k in kinds)
        assert rows.count() in (0, 1)

    check()


@pytest.mark.parametrize(
    "body",
    [
        '{"content": "hi", "metadata": {"note": "a\\u0000b"}}',
        '{"content": "hi", "metadata": {"a\\u0000": 1}}',
        '{"content": "hi", "tags": ["x\\u0000"]}',
        '{"content": "hi \\ud800"}',
        '{"content": "hi\\u0000"}',
        '{"items": [{"content": "hi", "a\\u0000": 1}]}',
    ],
)
def test_text_postgres_cannot_store_is_refused_and_nothing_is_written(space, body):
    """Anywhere in a body, even in a field name that only an error would echo."""
    _, raw = ApiToken.issue(
        space=space, name="writer", scopes=[Scope.MEMORIES_READ, Scope.MEMORIES_WRITE]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    path = "/api/v1/memories/batch" if "items" in body else "/api/v1/memories"
    response = client.post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code in (400, 422)
    assert has_error_shape(response.json())
    assert not Memory.objects.for_space(space).exists()


def test_the_domain_layer_refuses_nul_from_any_caller(space, actor):
    from apps.memories import services

    for fields in ({"content": "a\x00b"}, {"content": "ok", "metadata": {"k\x00": 1}}):
        with pytest.raises(services.InvalidMemory) as refused:
            services.create_memory(space, actor, **fields)
        assert "NUL" in str(refused.value.details)
    assert not Memory.objects.for_space(space).exists()
