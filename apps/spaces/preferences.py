"""What a space's settings may hold, declared once: each option's section, name, the
values it takes and its default. Every write (the API, the admin, code through
`Space.full_clean`) is checked against it; a reader gets the default for an option
that is absent, or that was stored invalid before this schema existed, so one bad
value cannot fail every job that reads it.

Settings look like {"consolidation": {"auto_apply": ["archive"]},
"hygiene": {"secret": "redact", "pii": "flag", "injection": "flag"}}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError


def _operations() -> list[str]:
    # Consolidation's models import the spaces app's, so the choices are read late.
    from apps.consolidation.models import Operation

    return list(Operation.values)


def _operation_labels() -> dict[str, str]:
    from apps.consolidation.models import Operation

    return dict(Operation.choices)


@dataclass(frozen=True)
class ChoiceList:
    """Distinct values, each one of `choices()`."""

    choices: Callable[[], Sequence[str]]
    default: tuple[str, ...] = ()
    # What the settings page calls the option, and each value in one line.
    label: str = ""
    explained: Callable[[], Mapping[str, str]] = dict

    def problem(self, value: Any) -> str | None:
        allowed = list(self.choices())
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return f"must be a list of names from: {', '.join(allowed)}"
        unknown = [item for item in value if item not in allowed]
        if unknown:
            return f"unknown {', '.join(map(repr, unknown))}; choose from: {', '.join(allowed)}"
        if len(set(value)) != len(value):
            return "names a value twice"
        return None

    def fallback(self) -> list[str]:
        return list(self.default)

    def values(self) -> list[str]:
        return list(self.choices())

    def explanations(self) -> Mapping[str, str]:
        return self.explained()


@dataclass(frozen=True)
class Choice:
    """One value of `choices`."""

    choices: tuple[str, ...]
    default: str
    # What the settings page calls the option, and each value in one line.
    label: str = ""
    explained: Mapping[str, str] = field(default_factory=dict)

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or value not in self.choices:
            return f"must be one of: {', '.join(self.choices)}"
        return None

    def fallback(self) -> str:
        return self.default

    def values(self) -> list[str]:
        return list(self.choices)

    def explanations(self) -> Mapping[str, str]:
        return self.explained


# What a write does with a finding of the hygiene scanner (apps.hygiene.policy).
HYGIENE_ACTIONS = ("allow", "flag", "redact", "reject")
HYGIENE_ACTIONS_EXPLAINED = {
    "allow": "Store the text as written, unflagged.",
    "flag": "Store the text as written, with a flag for a curator to review.",
    "redact": "Store the text with each finding replaced by [REDACTED:type].",
    "reject": "Refuse the write (422): nothing is stored.",
}

SCHEMA: dict[str, dict[str, ChoiceList | Choice]] = {
    "consolidation": {
        # The operations consolidation applies without review; the rest wait for a person.
        "auto_apply": ChoiceList(
            _operations,
            label="Applied without review (the rest wait in Review)",
            explained=_operation_labels,
        ),
    },
    "hygiene": {
        "secret": Choice(
            HYGIENE_ACTIONS,
            "redact",
            label="Secrets (keys, tokens, passwords)",
            explained=HYGIENE_ACTIONS_EXPLAINED,
        ),
        "pii": Choice(
            HYGIENE_ACTIONS,
            "flag",
            label="Personal data (e-mail, phone, ID numbers)",
            explained=HYGIENE_ACTIONS_EXPLAINED,
        ),
        "injection": Choice(
            HYGIENE_ACTIONS,
            "flag",
            label="Prompt injection",
            explained=HYGIENE_ACTIONS_EXPLAINED,
        ),
    },
}


def validate_space_settings(value: Any) -> None:
    """Raises ValidationError keyed by each refused option's "section.name"."""
    if not isinstance(value, dict):
        raise ValidationError('must be an object of sections, e.g. {"consolidation": {}}')
    errors: dict[str, str] = {}
    for section, options in value.items():
        known = SCHEMA.get(section)
        if known is None:
            errors[str(section)] = f"unknown section; known: {', '.join(SCHEMA)}"
        elif not isinstance(options, dict):
            errors[section] = "must be an object of options"
        else:
            for name, option_value in options.items():
                where = f"{section}.{name}"
                option = known.get(name)
                problem = (
                    f"unknown option; known: {', '.join(known)}"
                    if option is None
                    else option.problem(option_value)
                )
                if problem:
                    errors[where] = problem
    if errors:
        raise ValidationError({where: [problem] for where, problem in errors.items()})


def setting(stored: Any, section: str, name: str) -> Any:
    """The option's stored value if the schema allows it, else its default."""
    option = SCHEMA[section][name]
    options = stored.get(section) if isinstance(stored, dict) else None
    value = options.get(name) if isinstance(options, dict) else None
    if value is None or option.problem(value) is not None:
        return option.fallback()
    return value
