"""The domain layer's errors: each has a stable, machine-readable `code`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apps.memories.models import Memory


class MemoryServiceError(Exception):
    """Base of the domain errors; `code` is stable and machine-readable."""

    code = "memory_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class MemoryNotFound(MemoryServiceError):
    code = "not_found"


class VersionConflict(MemoryServiceError):
    code = "version_conflict"

    def __init__(self, memory: Memory, expected: int) -> None:
        super().__init__(
            f"memory {memory.pk} is at version {memory.version}, not {expected}",
            details={"current_version": memory.version, "expected_version": expected},
        )
        self.current = memory


class InvalidTransition(MemoryServiceError):
    code = "invalid_transition"


class InvalidMemory(MemoryServiceError):
    code = "invalid"


class ContentTooLarge(InvalidMemory):
    code = "content_too_large"


class ContentRefused(InvalidMemory):
    """The space's hygiene policy rejects what the text holds. The details name the
    categories and types found, never the text itself."""

    code = "content_refused"


class RecallNotFound(MemoryServiceError):
    """No recall with this id in the caller's space (another space's is not found)."""

    code = "recall_not_found"


class NotInRecall(MemoryServiceError):
    """Feedback named memories the recall did not return."""

    code = "not_in_recall"


class InvalidFeedback(MemoryServiceError):
    code = "invalid_request"


# What a caller may change directly; status changes have their own actions.
