"""The pipeline's processes for an end-to-end test module (``miao.pipeline_stack``), with short
redelivery times and a worker that can be paused mid-task and SIGKILLed."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass

from miao.pipeline_stack import PipelineStack as _Stack
from miao.stack import ManagedProcess


@dataclass
class PipelineStack(_Stack):
    visibility_timeout_s: float = 3.0
    requeue_after_s: float = 8.0

    def start_worker(
        self, argv: list[str] | None = None, *, paused_at: str | None = None
    ) -> ManagedProcess:
        if paused_at:
            argv = [sys.executable, "-m", "tests.pipeline.paused_worker", paused_at]
        return super().start_worker(argv)

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group: no shutdown, no acknowledgement."""
        assert self.worker and self.worker.proc
        os.killpg(self.worker.proc.pid, signal.SIGKILL)
        self.worker.proc.wait(10)
        self.worker = None
