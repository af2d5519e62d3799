"""`field__any_of=[...]`: the field equals one of a list, sent as one array parameter.

`__in` writes a placeholder and adapts a value for each item, which for the hundred ids
of a search's candidates costs more than running the query; `= ANY(%s)` is the same
test with the list as one PostgreSQL array literal, a single string to send.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Field, ForeignObject, Lookup


def array_literal(values: list[Any]) -> str:
    quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        if isinstance(self.rhs, str | bytes) or not hasattr(self.rhs, "__iter__"):
            raise TypeError(f"__any_of takes a list of values, not {type(self.rhs).__name__}")
        prep = self.lhs.output_field.get_prep_value
        # As __in does: NULL equals nothing, so a None matches no row.
        return [prep(value) for value in self.rhs if value is not None]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        array_type = f"{self.lhs.output_field.db_type(connection)}[]"
        return f"{lhs} = ANY(%s::{array_type})", [*lhs_params, array_literal(self.rhs)]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # related fields keep lookups of their own
