"""What an import tells its caller: rows imported, and why each refused line was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.memories.services import MemoryServiceError
from apps.memories.transfer.schema import RECORD_TYPES


@dataclass
class ImportReport:
    """Rows imported per line type, and one error per refused line, in line order."""

    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECORD_TYPES, 0))
    errors: list[dict[str, Any]] = field(default_factory=list)


class ImportLineError(MemoryServiceError):
    """One line that cannot be imported; `code` names the kind of problem."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.code = code


def line_error(line: int, exc: MemoryServiceError) -> dict[str, Any]:
    """The report's entry for a refused line."""
    return {"line": line, "code": exc.code, "message": exc.message, "details": exc.details}
