"""A Celery worker that stops inside ``label_sound`` after a given on-chain write and waits there.

``python -m tests.pipeline.paused_worker STEP`` (e.g. ``label_set:source``) runs the real worker
(``worker.app``, solo pool) with ``worker.tasks.STEP_HOOK`` set: when the task reaches ``STEP`` it
prints ``PAUSED STEP`` and sleeps, for the test to SIGKILL it there, a real process death with the
message unacknowledged and one of the sound's labels already on-chain.
"""

from __future__ import annotations

import sys
import time

import worker.tasks
from worker.app import app


def main() -> None:
    pause_at = sys.argv[1]

    def pause(step: str) -> None:
        if step == pause_at:
            print(f"PAUSED {step}", flush=True)
            while True:
                time.sleep(60)

    worker.tasks.STEP_HOOK = pause
    app.worker_main(
        ["worker", "--pool=solo", "--loglevel=INFO", "--without-mingle", "--without-gossip"]
    )


if __name__ == "__main__":
    main()
