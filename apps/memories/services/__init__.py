"""The domain layer: the only way to change a memory.

Every public function runs in one transaction that changes the rows, appends the
MemoryVersion snapshot(s) and writes the AuditEvent(s); an exception anywhere
rolls all of it back. Views, the API, import and Celery jobs all call these
functions. Memories are addressed by id within a space: an id from another space
is `MemoryNotFound`, exactly like an id that does not exist.

The package is split by concern; this module gathers the public names so that
callers write `services.create_memory(...)` whatever module holds it.
"""

from apps.memories.services.create import create_memories, create_memory
from apps.memories.services.embeddings import (
    InContext,
    drop_vectors,
    in_context,
    request_reembedding,
    store_embeddings,
)
from apps.memories.services.episodes import (
    record_episode,
    record_episodes,
    remember_conversation,
)
from apps.memories.services.errors import (
    ContentRefused,
    ContentTooLarge,
    InvalidFeedback,
    InvalidMemory,
    InvalidTransition,
    MemoryNotFound,
    MemoryServiceError,
    NotInRecall,
    RecallNotFound,
    VersionConflict,
)
from apps.memories.services.lifecycle import (
    Reverted,
    archive_memory,
    change_status,
    delete_memory,
    purge_memory,
    restore_memory,
    revert_to_version,
    update_memory,
)
from apps.memories.services.lineage import (
    merge_memories,
    replace_memory,
    summarize_memories,
    supersede_memory,
    unmerge_memory,
    unsupersede_memory,
)
from apps.memories.services.links import create_links, link_memories, unlink
from apps.memories.services.recall import FeedbackRecorded, record_feedback, record_recall
from apps.memories.services.records import MemoryId
from apps.memories.services.redaction import Span, redact_memory
from apps.memories.services.rules import EDITABLE_FIELDS

__all__ = [
    "EDITABLE_FIELDS",
    "ContentRefused",
    "ContentTooLarge",
    "FeedbackRecorded",
    "InContext",
    "InvalidFeedback",
    "InvalidMemory",
    "InvalidTransition",
    "MemoryId",
    "MemoryNotFound",
    "MemoryServiceError",
    "NotInRecall",
    "RecallNotFound",
    "Reverted",
    "Span",
    "VersionConflict",
    "archive_memory",
    "change_status",
    "create_links",
    "create_memories",
    "create_memory",
    "delete_memory",
    "drop_vectors",
    "in_context",
    "link_memories",
    "merge_memories",
    "purge_memory",
    "record_episode",
    "record_episodes",
    "record_feedback",
    "record_recall",
    "redact_memory",
    "remember_conversation",
    "replace_memory",
    "request_reembedding",
    "restore_memory",
    "revert_to_version",
    "store_embeddings",
    "summarize_memories",
    "supersede_memory",
    "unlink",
    "unmerge_memory",
    "unsupersede_memory",
    "update_memory",
]
