"""JSON from outside, checked once at the edge: nested no deeper than MAX_DEPTH, and
holding only text PostgreSQL can store.

PostgreSQL refuses U+0000 in text and jsonb, and half a surrogate pair (a JSON escape
such as "\\ud800" alone) cannot even be encoded as UTF-8; either fails at the database,
after other rows of the request may have been written. Depth is checked on the raw
text, before parsing: `json.loads` recurses, so a body 100 000 levels deep would
exhaust the stack (or take a minute) before any check on the parsed value could run.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput

# Deeper than any document an agent means to send; shallow enough for every recursive
# reader downstream (json, the renderer, jsonb).
MAX_DEPTH = 64

# What changes the depth outside strings, and whole strings (skipped in one step, so
# brackets inside them do not count).
_DEPTH_TOKENS = re.compile(r'[\[\]{}]|"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class UnusableJSON(ValueError):
    """JSON refused before use; `code` and `details` go into the API's error body."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def nesting_depth_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """True if the JSON text opens more than `limit` arrays or objects inside each other."""
    depth = 0
    for token in _DEPTH_TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "the NUL character (U+0000)"
    try:
        text.encode()
    except UnicodeEncodeError as error:
        return f"half a surrogate pair (U+{ord(text[error.start]):04X})"
    return None


def _step(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    # ASCII escapes, so the path itself never carries what it points at.
    return f"{path}[{json.dumps(str(key)[:64])}]"


def unstorable_text(value: Any) -> tuple[str, str] | None:
    """(JSON path, problem) of the first key or string in `value` PostgreSQL cannot
    store, or None. Iterative, so no nesting depth can exhaust the stack."""
    pending: list[tuple[str, Any]] = [("$", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return path, problem
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                where = _step(path, key)
                problem = _text_problem(key) if isinstance(key, str) else None
                if problem:
                    return where, f"{problem} in a key"
                pending.append((where, child))
        elif isinstance(item, list | tuple):
            pending.extend((_step(path, i), child) for i, child in reversed(list(enumerate(item))))
    return None


def holds_unstorable_text(value: Any) -> bool:
    return unstorable_text(value) is not None


def check_storable(value: Any) -> None:
    """Raises UnusableJSON naming where `value` holds text PostgreSQL cannot store."""
    found = unstorable_text(value)
    if found is not None:
        path, problem = found
        raise UnusableJSON(
            "invalid_text",
            f"the body holds {problem} at {path}, which cannot be stored",
            {"path": path},
        )


def load_json(text: str) -> Any:
    """`text` parsed as strict JSON (no NaN or Infinity), if it is shallow enough and
    holds only storable text; raises UnusableJSON, or ValueError for malformed JSON."""
    if nesting_depth_exceeds(text):
        raise UnusableJSON(
            "too_deep",
            f"the JSON nests arrays and objects more than {MAX_DEPTH} levels deep",
            {"max_depth": MAX_DEPTH},
        )
    value = json.loads(text, parse_constant=_refuse_constant)
    check_storable(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class StorableJSONFormField(forms.JSONField):
    """A form's JSON field: what load_json refuses gets a form error, not a 500, and is
    shown back as it was typed (Django would re-encode the parsed value, surrogates and
    all, or recurse through it)."""

    def to_python(self, value: Any) -> Any:
        refused = None if self.disabled else _refusal(value)
        if refused is not None:
            raise forms.ValidationError(refused.message, code=refused.code)
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        if not self.disabled and _refusal(data) is not None:
            return InvalidJSONInput(data)
        return super().bound_data(data, initial)


def _refusal(value: Any) -> UnusableJSON | None:
    if not isinstance(value, str):
        return None
    try:
        load_json(value)
    except UnusableJSON as refused:
        return refused
    except ValueError:
        pass  # malformed: Django's own message says so
    return None
