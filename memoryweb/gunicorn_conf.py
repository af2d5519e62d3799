"""gunicorn settings for serving MemoryWeb: `gunicorn -c python:memoryweb.gunicorn_conf`.

The command line still chooses the bind address, workers and threads (docker/Dockerfile).
"""

import logging
from typing import Any

logger = logging.getLogger("memoryweb.gunicorn")


def post_worker_init(worker: Any) -> None:
    """Do before the worker takes requests what its first request would otherwise wait
    for: about a second for the imports behind the URLconf and the cache client, the
    connections to the database and the broker, and seconds more for the embedding
    model (far longer while the machine is busy)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.urls import get_resolver

    from memoryweb.celery import app as celery_app

    get_resolver().url_patterns  # noqa: B018 (imports every view and what they use)
    celery_app.finalize()  # binds every task, which the first queued job would do
    try:
        cache.get("memoryweb:warm-up")
        connection.ensure_connection()
        # A pooled broker connection for the jobs that requests queue.
        with celery_app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
    except Exception:  # a server that is away now is reported by requests, not here
        logger.warning("warm-up: a server did not answer", exc_info=True)
    if settings.EMBEDDING_WARM_UP:
        from apps.retrieval.embedding import warm_up

        warm_up()
