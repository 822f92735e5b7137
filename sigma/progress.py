"""Progress for long work, on a terminal and in a log.

A rich progress bar redraws itself in place on a terminal. Piped into a log (``make run > log``,
a Prefect worker, CI), rich draws nothing until the bar stops, and a stage that runs for 20 minutes
shows no sign of life. :class:`LoggedProgress` is rich's bar that, when its console is not a
terminal, also prints each task as one plain line (done/total, its fields such as the loss, elapsed
and estimated time left) at most every :data:`LOG_SECONDS` seconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta

from rich.progress import Progress, ProgressColumn, Task, TaskID

LOG_SECONDS_ENV = "SIGMA_PROGRESS_SECONDS"
LOG_SECONDS = 30.0  # a line at most this often per task when piped; SIGMA_PROGRESS_SECONDS overrides


def _duration(seconds: float | None) -> str:
    return "?" if seconds is None else str(timedelta(seconds=round(seconds)))


def _field(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def task_line(task: Task) -> str:
    """One plain progress line: ``training VAE: 120/1500 (8%) loss=0.1234 elapsed 0:01:02 left 0:11:40``."""
    done = f"{task.completed:.0f}" + (f"/{task.total:.0f} ({task.percentage:.0f}%)" if task.total else "")
    fields = " ".join(f"{k}={_field(v)}" for k, v in task.fields.items())
    left = task.time_remaining if task.total else None
    return " ".join(
        p
        for p in (
            f"{task.description}: {done}",
            fields,
            f"elapsed {_duration(task.elapsed)}",
            f"left {_duration(left)}" if task.total else "",
        )
        if p
    )


class LoggedProgress(Progress):
    """:class:`rich.progress.Progress` that also logs :func:`task_line` lines when not on a terminal.

    ``log_seconds``: the least time between two lines of one task (default :data:`LOG_SECONDS`, or
    ``$SIGMA_PROGRESS_SECONDS``); ``clock`` stands in for :func:`time.monotonic` in tests."""

    def __init__(
        self,
        *columns: str | ProgressColumn,
        log_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        **kwargs,
    ):
        super().__init__(*columns, **kwargs)
        env = os.environ.get(LOG_SECONDS_ENV)
        self.log_seconds = log_seconds if log_seconds is not None else float(env) if env else LOG_SECONDS
        self._clock = clock
        self._logged: dict[TaskID, float] = {}

    def add_task(self, description: str, *args, **kwargs) -> TaskID:
        task_id = super().add_task(description, *args, **kwargs)
        self._logged[task_id] = self._clock()  # the first line comes one interval in
        return task_id

    def update(self, task_id: TaskID, *args, **kwargs) -> None:
        super().update(task_id, *args, **kwargs)
        self._log_if_due(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log_if_due(task_id)

    def _log_if_due(self, task_id: TaskID) -> None:
        if self.console.is_terminal:
            return
        now = self._clock()
        if now - self._logged.get(task_id, now) < self.log_seconds:
            return
        self._logged[task_id] = now
        with self._lock:
            task = self._tasks[task_id]
        self.console.print(task_line(task), highlight=False, markup=False, soft_wrap=True)
