"""A space's subjects, as the dashboard offers them and its Subject filter matches them.

The API's `subject` filter stays an exact match (agents name a subject exactly, and
an index serves it); a curator types part of a name, so the dashboard matches words.
"""

from __future__ import annotations

import re

from django.db.models import Q

from apps.memories.models import Memory
from apps.spaces.models import Space

# Suggestions past this many stop helping; the free text still matches every subject.
SUGGESTED_SUBJECTS = 500
_STARTS_WITH_WORD = re.compile(r"\w", re.UNICODE)


def space_subjects(space: Space) -> list[str]:
    """The distinct subjects of the space's memories, of any status, in order."""
    return list(
        Memory.objects.for_space(space)
        .exclude(subject="")
        .order_by("subject")
        .values_list("subject", flat=True)
        .distinct()[:SUGGESTED_SUBJECTS]
    )


def subject_matching(text: str) -> Q:
    """Subjects with a word that starts with `text`, ignoring case: "maya" and "Oka"
    find "Maya Okafor", where "ana" does not find "Diana" (a plain substring would).
    Text that does not start with a letter or digit is looked for anywhere."""
    text = text.strip()
    if not _STARTS_WITH_WORD.match(text):
        return Q(subject__icontains=text)
    # \m is PostgreSQL's start of a word; re.escape's backslashes are ARE escapes too.
    return Q(subject__iregex=r"\m" + re.escape(text))
