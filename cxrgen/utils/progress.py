"""rich progress bars shown only on a TTY and only on rank 0; a no-op elsewhere (logs, CI, workers)."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from cxrgen.utils import dist


class _Null:
    def update(self, *a, **k) -> None:
        pass

    def advance(self, *a, **k) -> None:
        pass


def enabled() -> bool:
    return dist.is_main() and sys.stderr.isatty()


@contextlib.contextmanager
def progress(description: str, total: int | None = None, unit: str = "it", completed: int = 0) -> Iterator:
    """``with progress("embed", total=n, unit="img") as bar: bar.advance(k)``."""
    if not enabled():
        yield _Null()
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    class _Rate(TextColumn):
        def render(self, task):  # type: ignore[override]
            speed = task.finished_speed or task.speed
            return TextColumn(f"{speed:.1f} {unit}/s" if speed else f"– {unit}/s").render(task)

    cols = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            _Rate(""), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*cols, console=Console(stderr=True), transient=False) as p:
        task = p.add_task(description, total=total, completed=completed)

        class _Bar:
            def advance(self, n: float = 1) -> None:
                p.advance(task, n)

            def update(self, **kw) -> None:
                p.update(task, **kw)
        yield _Bar()
