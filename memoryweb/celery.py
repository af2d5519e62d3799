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
def _warm_up(**_kwargs: Any) -> None:
    """A worker process prepares, as it starts, for the jobs of the queues it takes.

    In a thread: the pool gives a new process only a few seconds to report for work
    (worker_proc_alive_timeout), less than this takes on a busy machine. A job that
    arrives meanwhile waits for it (the backend's lock, the projection's kernel lock).
    """
    from django.conf import settings

    def takes(task: str) -> bool:
        return settings.CELERY_TASK_ROUTES[task]["queue"] in app.amqp.queues.consume_from

    if settings.EMBEDDING_WARM_UP and takes("apps.retrieval.tasks.embed_space"):
        # Loading torch and the model's weights.
        from apps.retrieval.embedding import warm_up as load_model

        threading.Thread(target=load_model, name="embedding-warm-up", daemon=True).start()
    if settings.PROJECTION_WARM_UP and takes("apps.maps.tasks.project_space"):
        # Compiling UMAP's numba kernels.
        from apps.maps.services import warm_up as compile_kernels

        threading.Thread(target=compile_kernels, name="projection-warm-up", daemon=True).start()
