"""What a write answers: every API write that returns memories or episodes shapes its
answer here.

A caller that may read gets the memories, and its access log records the answer like
any read: a PATCH with nothing in it would otherwise be a read nobody sees. What the
caller has just sent to be created is no read: the answer shows it nothing new. A
caller that may only write gets a receipt, enough to find the memory again and to
send If-Match, and nothing of what it could not read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.api import serializers as s
from apps.api.access import Caller
from apps.api.views.base import log_reads
from apps.consolidation.models import Proposal
from apps.memories.models import Episode, Memory


def written_memories(
    caller: Caller,
    memories: Sequence[Memory],
    *,
    via: str | None,
    fields: tuple[str, ...] = s.DEFAULT_MEMORY_FIELDS,
) -> list[dict[str, Any]]:
    """The answer about `memories`, in their order. `via` names the write in the access
    log; None for memories this request created from what the caller sent."""
    if not caller.may_read:
        return list(s.MemoryReceiptSerializer(memories, many=True).data)
    if via is not None:
        log_reads(caller, (memory.pk for memory in memories), via)
    return list(s.MemorySerializer(memories, many=True, fields=fields).data)


def written_memory(
    caller: Caller,
    memory: Memory,
    *,
    via: str | None,
    fields: tuple[str, ...] = s.DEFAULT_MEMORY_FIELDS,
) -> dict[str, Any]:
    (answer,) = written_memories(caller, [memory], via=via, fields=fields)
    return answer


def created_episodes(caller: Caller, episodes: Sequence[Episode]) -> list[dict[str, Any]]:
    shape = s.EpisodeSerializer if caller.may_read else s.EpisodeReceiptSerializer
    return list(shape(episodes, many=True).data)


def decided_proposal(caller: Caller, proposal: Proposal) -> dict[str, Any]:
    """A proposal's change and evidence quote the memories it is about."""
    shape = s.ProposalSerializer if caller.may_read else s.ProposalReceiptSerializer
    return dict(shape(proposal).data)
