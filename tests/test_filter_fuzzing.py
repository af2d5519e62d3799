"""Property tests of search and filter parsing (hypothesis): whatever a client sends
as filters, the API and the memory browser answer without a 5xx, and every refusal of
the API has the error shape. Then every operation of the OpenAPI schema and every
dashboard page of the URL conf, sent hostile path, query and body values."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.api.pagination import encode_cursor
from apps.api.views.memories import MEMORY_FILTERS
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
FILTER_NAMES = sorted(MEMORY_FILTERS)
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
        response = client.get(f"/s/{space.slug}/memories/", params)
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


# ------------------------------------------------- every endpoint and page, from the schema

# What broke endpoints before: half a surrogate pair, NUL, dates PostgreSQL or Python
# cannot hold, digits of other scripts, numbers past any column, nesting past any parser.
HOSTILE_TEXT = [
    "\ud800",
    "a\udc00b",
    "a\x00b",
    "²",
    "٣",
    "\uff11\uff10",
    "-1",
    "0",
    "1e3",
    " 5",
    "99999999999999999999999",
    "2024-05-01T00:00:00+16:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31",
    "0001-01-01",
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00",
    "NaN",
    "null",
    "",
    "x" * 300,
    "memory:",
    "entity:1",
]


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


hostile_text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12))
hostile_scalars = st.one_of(
    hostile_text,
    st.sampled_from([None, True, False, 0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, 1.5, 1e308]),
)
hostile_values = st.recursive(
    hostile_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=6,
)
HOSTILE_BODIES = [
    "[" * 100_000 + "]" * 100_000,
    '{"content": "' + "[" * 1000 + '"}',
    '{"content": "a\\ud800", "items": [{"content": "\\udfff"}]}',
    '{"\\udfff": 1}',
    '{"k": "a\\u0000"}',
    "not json",
    '{"k": NaN}',
    "[]",
]
# Each query parameter of each endpoint gets each of these, alone; random draws rarely
# hit one exact value of one parameter out of sixty.
FAULT_DATES = [
    "2024-05-01T00:00:00+16:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
]
FAULT_VALUES = [*FAULT_DATES, "9999-12-31", "²", "99999999999999999999999"]
FAULT_CURSORS = [encode_cursor(moment, 1) for moment in FAULT_DATES]
API_FUZZ = settings(FUZZ, max_examples=5)
PAGE_FUZZ = settings(FUZZ, max_examples=3)


def api_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) for every operation of the OpenAPI schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = [
        (method.upper(), path, {**operation, "components": schema["components"]["schemas"]})
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]
    assert len(found) > 30, "the schema lists far fewer operations than the API has"
    return found


def values_for(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """Values of `schema`'s type (so a request can get past the first check) mixed
    with hostile ones of any type."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for combined in ("allOf", "oneOf", "anyOf"):
        if schema.get(combined):
            schema = schema[combined][0]
            return values_for(schema, components, depth)
    if depth > 3:
        return hostile_scalars
    kind = schema.get("type")
    typed: Any
    if "enum" in schema:
        typed = st.sampled_from([v for v in schema["enum"] if v is not None] or [""])
    elif kind == "object" and schema.get("properties"):
        typed = st.fixed_dictionaries(
            {},
            optional={
                name: values_for(sub, components, depth + 1)
                for name, sub in schema["properties"].items()
            },
        )
    elif kind == "object":
        typed = st.dictionaries(hostile_text, hostile_values, max_size=3)
    elif kind == "array":
        typed = st.lists(values_for(schema.get("items", {}), components, depth + 1), max_size=3)
    elif kind == "integer":
        typed = st.integers(min_value=-(2**70), max_value=2**70)
    elif kind == "number":
        typed = st.floats(allow_nan=False, allow_infinity=False)
    elif kind == "boolean":
        typed = st.booleans()
    else:
        typed = hostile_text
    return st.one_of(typed, hostile_values, st.just(_nested(100)))


@pytest.fixture
def seeded(space, actor, make_memory, hashing_backend, settings) -> dict[str, Any]:
    """One of everything an endpoint or page can name, in the caller's space, keyed by
    the name a path gives its id (and, for the API's {id}, by the resource)."""
    from apps.consolidation.models import Proposal
    from apps.jobs.models import Job
    from apps.memories import services
    from apps.memories.models import Entity, Link
    from apps.retrieval.models import Recall
    from tests.dashboard.test_map_page import draw_map

    settings.API_RATE_LIMIT = (100_000, 60)
    first = make_memory("Maya runs on Sundays.", subject="maya", tags=["running"])
    second = make_memory("Maya trains for a marathon.", subject="maya")
    services.update_memory(space, actor, first.pk, expected_version=1, content="Maya runs daily.")
    services.link_memories(space, actor, first.pk, second.pk, "related_to")
    episode = services.record_episodes(
        space, actor, [{"content": "I run on Sundays.", "session": "s1", "speaker": "maya"}]
    )[0]
    entity = Entity.objects.for_space(space).create(
        space=space, name="Maya", normalized_name="maya"
    )
    proposal = Proposal.objects.for_space(space).create(
        space=space,
        operation="archive",
        memory_ids=[second.pk],
        memory_versions=[1],
        fingerprint="fuzz",
        score=0.5,
    )
    token, raw = ApiToken.issue(space=space, name="fuzzer", scopes=[Scope.ADMIN])
    job = Job.objects.create(kind="reembed", space=space, status=Job.Status.SUCCEEDED)
    projection = draw_map(space, [first, second])
    link = Link.objects.for_space(space).get()
    recall = Recall.objects.for_space(space).create(
        space=space,
        query="Maya",
        mode="text",
        memory_ids=[first.pk, second.pk],
        **actor.as_fields(),
    )
    return {
        "memories": first.pk,
        "recalls": recall.pk,
        "episodes": episode.pk,
        "links": link.pk,
        "entities": entity.pk,
        "proposals": proposal.pk,
        "tokens": token.pk,
        "slug": space.slug,
        "number": 1,
        "raw_token": raw,
        "job_id": job.pk,
        "projection_id": projection.pk,
        "memory_id": second.pk,
        "entity_id": entity.pk,
        "episode_id": episode.pk,
        "proposal_id": proposal.pk,
        "token_id": token.pk,
        "session": "s1",
        "ordinal": 0,
    }


def _quoted(value: Any) -> str:
    return quote(str(value), safe="", errors="surrogatepass")


def _answer(send: Callable[[], Any], what: str) -> Any:
    """The response to `send()`, each request in its own savepoint, so one that fails in
    the database leaves the next a working transaction; a 5xx or an exception fails."""
    try:
        with transaction.atomic():
            response = send()
            if response.streaming:
                b"".join(response.streaming_content)
    except Exception as error:
        pytest.fail(f"{what} raised {error!r}")
    assert response.status_code < 500, (what, response.content[:300])
    return response


def fuzz_operation(
    client: Any, seeded: dict[str, Any], method: str, template: str, operation: Any
) -> None:
    components = operation["components"]
    parameters = operation.get("parameters", [])
    resource = template.split("/")[3]
    path_values = st.fixed_dictionaries(
        {
            p["name"]: st.one_of(
                st.just(seeded[resource if p["name"] == "id" else p["name"]]), hostile_text
            )
            for p in parameters
            if p["in"] == "path"
        }
    )
    params = st.fixed_dictionaries(
        {},
        optional={
            p["name"]: st.one_of(hostile_text, values_for(p.get("schema", {}), components).map(str))
            for p in parameters
            if p["in"] == "query"
        },
    )
    content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
    media_type, body_schema = next(iter(content.items()), (None, dict[str, Any]()))
    # Header values arrive as Latin-1: a UTF-8 surrogate's bytes read as three letters.
    if_match = st.one_of(
        st.none(), st.sampled_from(['"1"', "²", 'W/"99999999999"', "\xed\xa0\x80"])
    )

    @API_FUZZ
    @given(path_values, params, values_for(body_schema.get("schema", {}), components), if_match)
    def check(path_value: dict[str, Any], query: dict[str, str], body: Any, match: Any) -> None:
        path = template
        for name, value in path_value.items():
            path = path.replace("{" + name + "}", _quoted(value))
        query_string = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in query.items())
        if media_type is None:
            data = b""
        elif isinstance(body, str) and media_type != "application/json":
            data = body.encode("utf-8", "surrogatepass")
        else:
            data = json.dumps(body).encode()
        headers = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
        if match is not None:
            headers["HTTP_IF_MATCH"] = match
        _answer(
            lambda: client.generic(
                method,
                path,
                data,
                content_type=media_type or "application/json",
                QUERY_STRING=query_string,
                **headers,
            ),
            f"{method} {path}?{query_string} {data[:200]!r}",
        )

    check()


def test_no_api_endpoint_answers_a_server_error_whatever_it_is_sent(seeded):
    client: Any = APIClient(raise_request_exception=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {seeded['raw_token']}")
    for method, template, operation in api_operations():
        fuzz_operation(client, seeded, method, template, operation)


def test_no_api_query_parameter_answers_a_server_error_to_a_known_fault(seeded):
    client: Any = APIClient(raise_request_exception=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {seeded['raw_token']}")
    for method, template, operation in api_operations():
        parameters = operation.get("parameters", [])
        path = template.replace("{slug}", seeded["slug"]).replace("{number}", "1")
        path = path.replace("{id}", str(seeded.get(template.split("/")[3])))
        for name in (p["name"] for p in parameters if p["in"] == "query"):
            for value in FAULT_CURSORS if name == "cursor" else FAULT_VALUES:
                query_string = f"{name}={_quoted(value)}"
                # Graph needs a centre to read its other parameters.
                if template.endswith("/graph") and name != "center":
                    query_string += f"&center=memory:{seeded['memories']}"
                send = partial(
                    client.generic,
                    method,
                    path,
                    b"{}" if method != "GET" else b"",
                    content_type="application/json",
                    QUERY_STRING=query_string,
                    HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
                )
                _answer(send, f"{method} {path}?{query_string}")


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_no_api_endpoint_answers_a_server_error_to_a_hostile_body(seeded, body):
    client: Any = APIClient(raise_request_exception=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {seeded['raw_token']}")
    for method, template, operation in api_operations():
        if "application/json" not in operation.get("requestBody", {}).get("content", {}):
            continue
        path = template.replace("{slug}", seeded["slug"]).replace("{number}", "1")
        path = path.replace("{id}", str(seeded.get(template.split("/")[3])))
        send = partial(
            client.generic,
            method,
            path,
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        _answer(send, f"{method} {path} {body[:100]!r}")


def dashboard_pages() -> list[tuple[str, list[str]]]:
    """(URL name, its path arguments) of every dashboard page."""
    from apps.dashboard.urls import app_name, urlpatterns

    return [
        (f"{app_name}:{pattern.name}", list(pattern.pattern.converters)) for pattern in urlpatterns
    ]


def page_parameter_names() -> list[str]:
    """Every field of the dashboard's forms, and the state its links carry."""
    from django import forms

    from apps.dashboard import forms as dashboard_forms

    fields = {
        name
        for form in vars(dashboard_forms).values()
        if isinstance(form, type) and issubclass(form, forms.Form)
        for name in form.base_fields
    }
    return sorted(fields | {"cursor", "offset", "space"})


def fuzz_page(client: Any, path: str, names: list[str]) -> None:
    @PAGE_FUZZ
    @given(st.dictionaries(st.sampled_from(names), hostile_text, max_size=5), st.booleans())
    def check(params: dict[str, str], htmx: bool) -> None:
        query_string = "&".join(f"{k}={_quoted(v)}" for k, v in params.items())
        extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        _answer(
            lambda: client.get(path, QUERY_STRING=query_string, **extra),
            f"GET {path}?{query_string}",
        )

    check()


def test_no_dashboard_page_answers_a_server_error_whatever_its_query(seeded, space):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    user = get_user_model().objects.create_user("fuzz-admin", password="pw-long-enough-1")
    Membership.objects.create(space=space, user=user, role=Role.ADMIN)
    client = Client(raise_request_exception=True)
    client.force_login(user)
    names = page_parameter_names()
    for url_name, arguments in dashboard_pages():
        path = reverse(url_name, kwargs={name: seeded[name] for name in arguments})
        if client.get(path).status_code == 405:
            continue  # a page that only takes POSTs
        # Every form field at once (a form checks them all), then each link's own state
        # alone (read only when the form is valid).
        sweeps = [
            *((names, value) for value in FAULT_VALUES[:-1]),
            *((["cursor"], cursor) for cursor in FAULT_CURSORS),
            *((["q", "offset"], value) for value in ["²", "99999999999999999999999"]),
        ]
        for swept, value in sweeps:
            query_string = "&".join(f"{name}={_quoted(value)}" for name in swept)
            _answer(
                partial(client.get, path, QUERY_STRING=query_string), f"GET {path}?{query_string}"
            )
        fuzz_page(client, path, names)
