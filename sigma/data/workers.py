"""Pools of spawned worker processes on this machine, shared by corpus synthesis and annotation.

Workers are spawned, not forked (a forked copy of a process whose torch thread pool already ran can
deadlock), and on Linux die with the process that started them, so a killed run (``kill -9``, the
OOM killer) leaves no idle workers holding images or a model in memory.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with(driver: int) -> None:
    """On Linux, have the kernel SIGKILL this process when ``driver`` (its parent) dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != driver:  # it died before the request took effect
        os._exit(1)


def _start(driver: int, threads: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    import torch

    die_with(driver)
    torch.set_num_threads(threads)
    if initializer is not None:
        initializer(*initargs)


def spawn_pool(
    processes: int, threads: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """``processes`` spawned workers, each with ``threads`` torch threads, running
    ``initializer(*initargs)`` once (e.g. to load a model into a module global) before any task."""
    context = multiprocessing.get_context("spawn")
    start = (os.getpid(), threads, initializer, initargs)
    return ProcessPoolExecutor(processes, context, initializer=_start, initargs=start)
