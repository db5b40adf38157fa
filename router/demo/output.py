"""Where the demo writes: plain text, or rich on a terminal."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Plain", "Writer", "catalog_warnings_quiet", "writer"]


class Writer(Protocol):
    def line(self, text: str = "", style: str = "") -> None: ...

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None: ...

    def progress(
        self, tasks: Sequence[tuple[str, int]]
    ) -> contextlib.AbstractContextManager[Callable[[int, str], None]]: ...


class Plain:
    """Plain text: no colour, no progress bar (each step prints its own line)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, text: str = "", style: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

        def cells(row: Sequence[str]) -> str:
            first = row[0].ljust(widths[0])
            return "  ".join(
                [first, *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
            )

        self.line(title)
        self.line(cells(header))
        self.line("  ".join("-" * w for w in widths))
        for row in rows:
            self.line(cells(row))

    @contextlib.contextmanager
    def progress(self, tasks: Sequence[tuple[str, int]]) -> Iterator[Callable[[int, str], None]]:
        yield lambda task, description: None


class _Rich:
    """rich: styled lines and a live progress bar per run."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def line(self, text: str = "", style: str = "") -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style), soft_wrap=True)

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for n, row in enumerate(rows):
            table.add_row(*row, style="bold" if n >= len(rows) - 2 else None)
        self.console.print(table)

    @contextlib.contextmanager
    def progress(self, tasks: Sequence[tuple[str, int]]) -> Iterator[Callable[[int, str], None]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            ids = [progress.add_task(name, total=total) for name, total in tasks]

            def advance(task: int, description: str) -> None:
                progress.update(ids[task], advance=1, description=description)

            yield advance


def _is_terminal(out: TextIO) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


def writer(out: TextIO, plain: bool | None) -> Writer:
    """rich when asked for (or, by default, on a terminal) and installed; else plain text."""
    if plain is True or (plain is None and not _is_terminal(out)):
        return Plain(out)
    try:
        from rich.console import Console
    except ImportError:
        return Plain(out)
    return _Rich(Console(file=out))


@contextlib.contextmanager
def catalog_warnings_quiet() -> Iterator[None]:
    """The demo reports skipped catalog entries itself; keep their log warnings off stderr."""
    logger = logging.getLogger("router.provider")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
