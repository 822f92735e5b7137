"""Progress lines for logs: a piped run says how far it is, at most once per interval."""

import io

from rich.console import Console

from sigma.progress import LOG_SECONDS_ENV, LoggedProgress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(console: Console, clock: Clock, log_seconds: float | None = 30.0, steps: int = 10, step_seconds: float = 10.0):
    with LoggedProgress(console=console, transient=True, log_seconds=log_seconds, clock=clock) as bar:
        task = bar.add_task("training", total=steps, loss=float("nan"))
        for step in range(steps):
            clock.now += step_seconds
            bar.update(task, advance=1, loss=1.0 / (step + 1))


def test_piped_progress_prints_a_line_per_interval_with_count_loss_and_time_left():
    out = io.StringIO()
    _run(Console(file=out, force_terminal=False), Clock())
    lines = [line for line in out.getvalue().splitlines() if line.startswith("training:")]
    # 10 steps of 10 s, a line at most every 30 s: after steps 3, 6 and 9
    assert [line.split()[1] for line in lines] == ["3/10", "6/10", "9/10"]
    assert "(30%) loss=0.3333" in lines[0] and "left " in lines[0]


def test_a_terminal_gets_the_bar_alone():
    out = io.StringIO()
    _run(Console(file=out, force_terminal=True), Clock())
    assert "training:" not in out.getvalue()


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(LOG_SECONDS_ENV, "0")
    out = io.StringIO()
    _run(Console(file=out, force_terminal=False), Clock(), log_seconds=None, steps=4)
    assert sum(line.startswith("training:") for line in out.getvalue().splitlines()) == 4
