"""Space-level workflows."""

from __future__ import annotations

import logging

from django.db import connection, transaction

from apps.audit.actors import Actor
from apps.spaces.models import Space

logger = logging.getLogger(__name__)


@transaction.atomic
def purge_space(space: Space, actor: Actor, *, reason: str) -> None:
    """Delete a space with everything in it, its audit trail included.

    Guaranteed deletion of a tenant's data; what remains is this log line.
    """
    if not reason.strip():
        raise ValueError("purging a space needs a reason")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('memoryweb.purging_space', %s, true)", [str(space.pk)])
    logger.warning("space %s (%s) purged by %s: %s", space.slug, space.pk, actor.label, reason)
    space.delete()
