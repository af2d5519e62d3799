import os
import threading
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memoryweb.settings")

app = Celery("memoryweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
def _drop_broken_connections(task: Any, **_kwargs: Any) -> None:
    """Connections last across tasks (CELERY_DB_REUSE_MAX): one that failed, or that is
    older than CONN_MAX_AGE, is closed here, so the task opens a fresh one."""
    if not getattr(task.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()


@signals.worker_process_init.connect
def _warm_up_embedding(**_kwargs: Any) -> None:
    """A process of a worker that takes embedding jobs loads the model as it starts.

    In a thread: the pool gives a new process only a few seconds to report for work
    (worker_proc_alive_timeout), less than loading torch takes on a busy machine. A
    batch that arrives meanwhile waits for the same load (the backend's lock).
    """
    from django.conf import settings

    queue = settings.CELERY_TASK_ROUTES["apps.retrieval.tasks.embed_space"]["queue"]
    if settings.EMBEDDING_WARM_UP and queue in app.amqp.queues.consume_from:
        from apps.retrieval.embedding import warm_up

        threading.Thread(target=warm_up, name="embedding-warm-up", daemon=True).start()
