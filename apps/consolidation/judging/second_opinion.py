"""A second opinion on each proposed merge or supersession from an OpenAI-compatible
chat endpoint, when one is configured (MEMORYWEB_OPENAI_CHAT_MODEL): it may confirm or
veto a candidate, never add one. Without it the judgement stands on its own."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable

from django.conf import settings

from apps.consolidation.judging.verdict import MERGE, Verdict

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "You check changes proposed for a memory store. Two memories about the same person "
    "are shown with their dates. 'merge' means they say the same thing, so one text can "
    "replace both without losing anything. 'supersede' means the newer one replaces the "
    "older one's claim about the same thing (a move, a new value, a reschedule, a "
    "reversal, a correction, a cancellation). Answer with one word: yes if the proposed "
    "change is right, no if it is not."
)


def _question(verdict: Verdict) -> str:
    older, newer = verdict.older, verdict.newer
    proposal = (
        "merge: they say the same thing"
        if verdict.op == MERGE
        else "supersede: the newer one replaces the older one"
    )
    return (
        f"Older ({older.when:%Y-%m-%d}): {older.content}\n"
        f"Newer ({newer.when:%Y-%m-%d}): {newer.content}\n"
        f"Proposed: {proposal}.\nIs this right? Answer yes or no."
    )


def ask(verdict: Verdict) -> bool | None:
    """True to confirm, False to veto, None when the endpoint gave no usable answer."""
    body = {
        "model": settings.OPENAI_CHAT_MODEL,
        "temperature": 0,
        "max_tokens": 3,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": _question(verdict)},
        ],
    }
    request = urllib.request.Request(
        f"{settings.OPENAI_BASE_URL.rstrip('/')}/chat/completions",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **(
                {"Authorization": f"Bearer {settings.OPENAI_API_KEY}"}
                if settings.OPENAI_API_KEY
                else {}
            ),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.OPENAI_TIMEOUT_SECONDS) as response:
            answer = json.load(response)["choices"][0]["message"]["content"]
    except (urllib.error.URLError, TimeoutError, ValueError, KeyError, IndexError, TypeError):
        logger.warning("second opinion unavailable from %s", settings.OPENAI_BASE_URL)
        return None
    word = str(answer).strip().strip(".!").casefold().split()
    if word and word[0] in ("yes", "confirm", "true"):
        return True
    if word and word[0] in ("no", "veto", "false"):
        return False
    return None


def configured_check() -> Callable[[Verdict], bool | None] | None:
    """The second opinion to ask, or None when no chat model is configured."""
    if settings.OPENAI_BASE_URL and settings.OPENAI_CHAT_MODEL:
        return ask
    return None
