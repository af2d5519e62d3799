"""Serializer fields that take JSON types as they are.

DRF's fields coerce: "0.5" becomes a float, 1 a boolean, 42 a string. An agent that
sends the wrong type has a bug, and a silent coercion hides it; these refuse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from apps.core.params import InvalidParameter, parse_instant


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return float(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class InstantField(serializers.DateTimeField):
    """An ISO 8601 date-time with a time zone, read by the one parser pages and query
    parameters use; it refuses what PostgreSQL or Python cannot hold."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601 with a time zone")
        try:
            return parse_instant(value, "the date-time")
        except InvalidParameter as refused:
            raise serializers.ValidationError(refused.message) from None


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class JsonObjectField(serializers.DictField):
    """Any JSON object (nested values kept as they are)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.JSONField(), **kwargs)


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know: a misspelt field must not be silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in unknown})
        return super().to_internal_value(data)
