"""The task queue: Celery on the Redis broker, one configuration for the producers (the API, the
indexer) and the worker, so both agree on the queue, serialisation and redelivery.

The backend never imports ``worker``: it sends tasks by name. Labelling and generation have
queues of their own, so an operator can give slow generation its own workers (``-Q generation``);
a worker started without ``-Q`` consumes both.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from backend.settings import Settings

LABEL_SOUND_TASK = "worker.tasks.label_sound"
GENERATE_TASK = "worker.tasks.generate"
MINT_TASK = "worker.tasks.mint"
LABELLING_QUEUE = "labelling"
GENERATION_QUEUE = "generation"


class QueueUnavailable(RuntimeError):
    """The broker (Redis) did not take the message: nothing was queued."""


def celery_config(settings: Settings) -> dict[str, Any]:
    """Broker, queue and delivery settings shared by every process that touches the queue.

    A task is acknowledged only after it finishes (``acks_late``), and a worker that dies mid-task
    gives its message back (``reject_on_worker_lost``); a message nobody acknowledges within the
    visibility timeout (the whole worker was killed) is restored by the next worker that polls.
    """
    visibility = settings.task_visibility_timeout_s
    return {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 2.0,
        "broker_transport_options": {
            "visibility_timeout": visibility,
            # sweep for abandoned messages often enough to honour a short visibility timeout
            "unacked_restore_interval": max(1, min(10, int(visibility // 2) or 1)),
            "unacked_restore_throttle": 1 if visibility < 300 else 10,
            "socket_connect_timeout": 2,
            "socket_timeout": 10,
        },
        "task_default_queue": LABELLING_QUEUE,
        "task_queues": (Queue(LABELLING_QUEUE), Queue(GENERATION_QUEUE)),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }


def make_celery(settings: Settings, main: str = "miao") -> Celery:
    app = Celery(main)
    app.conf.update(celery_config(settings))
    return app


class TaskQueue:
    """Sends the worker's tasks without importing the worker (a producer-only Celery app)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = make_celery(settings, main="miao-producer")

    def enqueue_label(self, sound_id: str) -> str:
        """Queue labelling of a registered sound; returns the Celery task id."""
        return self._send(LABEL_SOUND_TASK, sound_id, LABELLING_QUEUE)

    def enqueue_generation(self, job_id: str) -> str:
        """Queue a meow or style-transfer job (its parameters are in the job's first event)."""
        return self._send(GENERATE_TASK, job_id, GENERATION_QUEUE)

    def enqueue_mint(self, job_id: str) -> str:
        """Queue a server mint job."""
        return self._send(MINT_TASK, job_id, GENERATION_QUEUE)

    def _send(self, task: str, arg: str, queue: str) -> str:
        from kombu.exceptions import OperationalError

        try:
            result = self.app.send_task(task, args=[arg], queue=queue, retry=False)
        except (OperationalError, OSError) as exc:
            raise QueueUnavailable(
                f"cannot queue {task.rsplit('.', 1)[-1]}({arg}): Redis at "
                f"{self.settings.redis_url} did not answer ({exc})"
            ) from exc
        return str(result.id)

    def close(self) -> None:
        self.app.close()
