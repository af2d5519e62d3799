"""Sent inside purge_memory's transaction, before the row goes, so that the apps that
keep something derived from a memory's text (word counts, proposals, stored API
responses) remove it in the same transaction: after a purge the text is nowhere."""

from django.dispatch import Signal

# Sent with space= and memory= (the row, still there).
memory_purging = Signal()
