"""Input the API cannot use is refused at the edge with 400 and the error body: text
PostgreSQL cannot store, JSON nested too deep to read safely, date-times the database
or Python cannot represent, and integers written in other digits than 0-9."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from apps.core.payload import MAX_DEPTH
from apps.memories.models import Memory
from tests.api.conftest import error_of

# Offsets PostgreSQL refuses, and instants that leave the years 1-9999 in UTC.
UNREPRESENTABLE_INSTANTS = [
    "2024-05-01T00:00:00+16:00",
    "2024-05-01T00:00:00-23:59",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
]
NOT_ASCII_INTEGERS = ["²", "٣", "\uff11\uff10", "1_0", " 5", "+5", "1e3", "99999999999999999999999"]


def post_json(client: Any, path: str, text: str) -> Any:
    return client.post(path, text, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")


def cursor_for(value: Any, pk: Any) -> str:
    raw = json.dumps([value, str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ('{"content": "hi", "metadata": {"a\\ud800": 1}}', '$.metadata["a\\ud800"]'),
        ('{"content": "hi", "metadata": {"note": "x\\udc00"}}', "$.metadata.note"),
        (
            '{"content": "hi", "metadata": {"deep": [1, {"k": ["\\ud83d"]}]}}',
            "$.metadata.deep[1].k[0]",
        ),
        ('{"content": "hi", "tags": ["ok", "\\udfff"]}', "$.tags[1]"),
    ],
)
def test_it_refuses_a_lone_surrogate_anywhere_in_the_body_and_names_where(
    writer, space, body, path
):
    response = post_json(writer, "/api/v1/memories", body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_text"
    assert "surrogate" in error["message"]
    assert error["details"]["path"] == path
    assert not Memory.objects.for_space(space).exists()


def test_it_keeps_a_whole_surrogate_pair(writer, space):
    response = post_json(writer, "/api/v1/memories", '{"content": "hi \\ud83d\\ude00"}')

    assert response.status_code == 201
    assert Memory.objects.for_space(space).get().content == "hi \U0001f600"


def test_it_refuses_a_whole_batch_with_one_bad_item_and_stores_nothing(writer, space):
    body = (
        '{"items": [{"content": "first"}, {"content": "second", "metadata": {"k": "\\ud800"}},'
        ' {"content": "third"}]}'
    )

    response = post_json(writer, "/api/v1/memories/batch", body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_text"
    assert error["details"]["path"] == "$.items[1].metadata.k"
    assert not Memory.objects.for_space(space).exists()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_it_refuses_json_nested_too_deep_without_reading_it(writer, space, depth):
    body = '{"content": "hi", "metadata": {"k": ' + "[" * depth + "]" * depth + "}}"

    response = post_json(writer, "/api/v1/memories", body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "too_deep"
    assert error["details"] == {"max_depth": MAX_DEPTH}
    assert not Memory.objects.for_space(space).exists()


def test_it_takes_json_nested_up_to_the_limit_and_brackets_inside_strings(writer, space):
    # The body object and metadata are two levels; the list fills the rest.
    inner = MAX_DEPTH - 2
    body = '{"content": "[[[[{{{{", "metadata": {"k": ' + "[" * inner + '"]]]"' + "]" * inner + "}}"

    response = post_json(writer, "/api/v1/memories", body)

    assert response.status_code == 201, response.content[:300]
    assert Memory.objects.for_space(space).get().content == "[[[[{{{{"


@pytest.mark.parametrize("moment", UNREPRESENTABLE_INSTANTS)
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/memories", "occurred_after"),
        ("/api/v1/memories", "created_before"),
        ("/api/v1/memories", "as_of"),
        ("/api/v1/episodes", "occurred_after"),
        ("/api/v1/audit", "since"),
    ],
)
def test_it_refuses_a_date_filter_it_cannot_represent(writer, make_memory, path, name, moment):
    make_memory("Maya runs on Sundays.")

    response = writer.get(path, {name: moment})

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_date"
    assert error["details"][name] == moment


@pytest.mark.parametrize("moment", UNREPRESENTABLE_INSTANTS)
@pytest.mark.parametrize("where", ["as_of", "filters", "occurred_at", "valid_from"])
def test_it_refuses_a_body_date_it_cannot_represent(writer, space, hashing_backend, where, moment):
    if where in ("as_of", "filters"):
        body: dict[str, Any] = {"query": "runs"}
        body.update(
            {"as_of": moment} if where == "as_of" else {"filters": {"created_after": moment}}
        )
        response = writer.post("/api/v1/search", body, format="json")
    else:
        response = writer.post(
            "/api/v1/memories", {"content": "hi", where: moment}, format="json",
            HTTP_IDEMPOTENCY_KEY=f"k-{where}-{moment}",
        )  # fmt: skip

    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_request"
    assert not Memory.objects.for_space(space).exists()


def test_it_takes_a_date_filter_with_any_real_offset(writer, make_memory):
    make_memory("Maya runs on Sundays.")

    response = writer.get("/api/v1/memories", {"created_after": "2000-01-01T00:00:00+14:00"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("moment", UNREPRESENTABLE_INSTANTS)
@pytest.mark.parametrize("path", ["/api/v1/memories", "/api/v1/audit", "/api/v1/episodes"])
def test_it_refuses_a_cursor_holding_a_date_it_cannot_represent(writer, make_memory, path, moment):
    memory = make_memory("Maya runs on Sundays.")

    response = writer.get(path, {"cursor": cursor_for(moment, memory.pk)})

    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_cursor"


@pytest.mark.parametrize("raw", NOT_ASCII_INTEGERS)
@pytest.mark.parametrize("name", ["limit", "hops"])
def test_it_refuses_an_integer_parameter_not_written_in_ascii_digits(
    writer, make_memory, name, raw
):
    memory = make_memory("Maya runs on Sundays.")
    path = "/api/v1/graph" if name == "hops" else "/api/v1/memories"
    params = {name: raw, **({"center": f"memory:{memory.pk}"} if name == "hops" else {})}

    response = writer.get(path, params)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert error["details"][name] == raw


def test_it_refuses_a_graph_limit_in_unicode_digits(writer, make_memory):
    memory = make_memory("Maya runs on Sundays.")

    response = writer.get("/api/v1/graph", {"center": f"memory:{memory.pk}", "limit": "²"})

    assert response.status_code == 400
    assert error_of(response)["details"] == {"limit": "²"}
