"""The new ids an import gives its rows, and the map from the ids in the file to them."""

from __future__ import annotations

import secrets
import time
import uuid

from apps.memories.transfer.report import ImportLineError


class AscendingIds:
    """Fresh UUIDs, each greater than the one before.

    The export orders rows by (created_at, id), and rows created in one batch share
    their created_at; ids ascending in file order keep such rows in the same order
    when the imported space is exported again. The layout is UUIDv7's (time, then
    random bits), so two imports' ids collide no more than random UUIDs do.
    """

    def __init__(self) -> None:
        self._millis = int(time.time() * 1000) & ((1 << 48) - 1)
        # 74 random bits in UUIDv7; the top one starts clear, leaving room to count up.
        self._counter = secrets.randbits(73)

    def __call__(self) -> uuid.UUID:
        self._counter += 1
        rand_a, rand_b = self._counter >> 62, self._counter & ((1 << 62) - 1)
        return uuid.UUID(
            int=(self._millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
        )


class IdMap:
    """For each record type that other lines refer to, the file's ids of the rows
    read so far and the new ids they were given."""

    def __init__(self) -> None:
        self.new_id = AscendingIds()
        self.known: dict[str, dict[str, uuid.UUID]] = {"episode": {}, "memory": {}, "entity": {}}

    def claim(self, record_type: str, old_id: str) -> uuid.UUID:
        """A new id for a row whose file id no earlier line used."""
        if old_id in self.known[record_type]:
            raise ImportLineError(
                "duplicate", f"{record_type} {old_id} was already imported", {"id": old_id}
            )
        return self.new_id()

    def remember(self, record_type: str, old_id: str, new_id: uuid.UUID) -> None:
        self.known[record_type][old_id] = new_id

    def forget(self, record_type: str, old_id: str) -> None:
        del self.known[record_type][old_id]

    def resolve(self, record_type: str, references: dict[str, str]) -> dict[str, uuid.UUID]:
        """Translate {path: old id} into new ids, or fail naming every unknown one."""
        known = self.known[record_type]
        missing = {path: old for path, old in references.items() if old not in known}
        if missing:
            raise ImportLineError(
                "unknown_reference",
                f"no {record_type} with that id was imported on an earlier line",
                missing,
            )
        return {path: known[old] for path, old in references.items()}
