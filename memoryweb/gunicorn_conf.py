"""gunicorn settings for serving MemoryWeb: `gunicorn -c python:memoryweb.gunicorn_conf`.

The command line still chooses the bind address, workers and threads (docker/Dockerfile).
"""

from typing import Any


def post_worker_init(worker: Any) -> None:
    """Load the embedding model before the worker takes requests: otherwise the first
    search in every new worker waits seconds for torch to load."""
    from django.conf import settings

    if settings.EMBEDDING_WARM_UP:
        from apps.retrieval.embedding import warm_up

        warm_up()
