"""The Celery app: ``celery -A worker.app worker`` (docker-compose) and ``miao dev`` run it.

Broker and delivery settings come from ``backend.pipeline.queue.celery_config`` (Redis from
``MIAO_REDIS_URL``, ``acks_late``, ``reject_on_worker_lost``, the visibility timeout), the same
configuration the producers use. When the worker is ready it also starts the requeue sweeper,
which queues again any registered sound whose labelling stalled (``backend.pipeline.requeue``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery.signals import worker_init, worker_ready

from backend.pipeline.queue import make_celery
from backend.settings import get_settings

log = logging.getLogger(__name__)

app = make_celery(get_settings(), main="miao-worker")
app.conf.include = ["worker.tasks"]


@worker_init.connect
def _load_models(**_: Any) -> None:
    """Load the shipped labellers and synthesis models before the first task, so it is not the
    one that waits."""
    try:
        from ml.registry import load_labeller, shipped_tasks

        for task in shipped_tasks():
            load_labeller(task)
    except Exception as exc:  # a task reports a missing or broken model clearly when it runs
        log.warning("could not preload the labellers: %s", exc)
    try:
        from backend.pipeline.generation import shipped_synthesiser, shipped_voice_to_cat

        shipped_synthesiser()
        shipped_voice_to_cat()
    except Exception as exc:
        log.warning("could not preload the synthesis models: %s", exc)


@worker_ready.connect
def _start_requeue_sweeper(**_: Any) -> None:
    threading.Thread(target=_sweep_forever, name="requeue-sweeper", daemon=True).start()


def _sweep_forever() -> None:
    from backend.db.session import session_factory
    from backend.pipeline.queue import TaskQueue
    from backend.pipeline.requeue import requeue_stalled

    settings = get_settings()
    queue = TaskQueue(settings)
    sessions = session_factory(settings.db_url)
    interval = max(1.0, min(30.0, settings.requeue_after_s / 2))
    while True:
        time.sleep(interval)
        try:
            requeue_stalled(sessions, queue, settings.requeue_after_s)
        except Exception as exc:  # Redis or the database away: the next sweep tries again
            log.warning("requeue sweep failed: %s", exc)
