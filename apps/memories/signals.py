"""Sent inside purge_memory's transaction (by scrub_everywhere), before the row goes,
so that the apps that keep something derived from a memory's text (word counts,
proposals, stored API responses) remove it in the same transaction: after a purge the
text is nowhere. A receiver only calls its own app's public function for it, so the
apps stay unaware of each other and each keeps its rows to itself."""

from django.dispatch import Signal

# Sent with space= and memory= (the row, still there).
memory_purging = Signal()

# Sent inside redact_memory's transaction with space= and replacements= (each redacted
# text mapped to the `[REDACTED:type]` that replaces it): the apps that keep copies of
# a memory's words replace those texts in their rows, wherever they stand in the space.
text_redacting = Signal()
