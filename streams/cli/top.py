"""``cxpulse top``: CX health per tenant and channel, full screen and refreshed in place.

``Live`` holds what the person picked and the last fetch; ``Terminal`` draws its
lines with curses and reads keys without waiting, so the same pair serves the
``top`` loop here and the demo's timer (which must read the demo's own embedded
ClickHouse in its own process). Not on a terminal, ``top`` prints one snapshot.
"""

from __future__ import annotations

import contextlib
import curses
import locale
import shutil
import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import ClassVar

from streams.cli.live import Source, fetch
from streams.cli.screen import Line, State, View, on_key, screen
from streams.warehouse import WarehouseError

FETCH_ERRORS = (WarehouseError, OSError, ValueError)
KEY_NAMES = {curses.KEY_RIGHT: "RIGHT", curses.KEY_LEFT: "LEFT", curses.KEY_UP: "UP",
             curses.KEY_DOWN: "DOWN", curses.KEY_RESIZE: "RESIZE"}


class Live:
    """The picked tenant and window, the last view, and the last fetch error."""

    def __init__(self, source: Source, *, min_answers: int, state: State,
                 notes: Sequence[str] = ()) -> None:
        self.source, self.min_answers, self.state = source, min_answers, state
        self.notes = list(notes)
        self.view: View | None = None
        self.error: str | None = None
        self.quit = False

    def refresh(self) -> None:
        """Fetch again; a failure is kept on screen (the next refresh retries)."""
        try:
            self.view = fetch(self.source, window=self.state.window, tenant=self.state.tenant)
            self.error = None
        except FETCH_ERRORS as error:
            self.error = str(error)

    def press(self, key: str) -> bool:
        """Apply a key; True when the view must be fetched again (``quit`` on q)."""
        tenants = self.view.tenants if self.view else []
        new = on_key(self.state, key, tenants)
        if new is None:
            self.quit = True
            return False
        changed = new != self.state or key in ("r", "RESIZE")
        self.state = new
        return changed

    def lines(self, width: int | None = None, height: int | None = None) -> list[Line]:
        return screen(self.view, self.state, source=self.source.description,
                      min_answers=self.min_answers, width=width, height=height,
                      error=self.error, notes=self.notes)


class Terminal:
    """The full-screen terminal: lines drawn in place, keys read with a short wait."""

    STYLES: ClassVar[dict[str, int]] = {
        "title": curses.A_BOLD | curses.A_REVERSE, "head": curses.A_BOLD, "alert": curses.A_BOLD,
        "warn": curses.A_NORMAL, "": curses.A_NORMAL}

    def __enter__(self) -> Terminal:
        locale.setlocale(locale.LC_ALL, "")  # curses writes UTF-8 (the sparkline) only so
        self.window = curses.initscr()
        curses.noecho()
        curses.cbreak()
        self.window.keypad(True)
        self.colors = {}
        try:
            curses.curs_set(0)
            curses.start_color()
            curses.use_default_colors()
            curses.init_pair(1, curses.COLOR_RED, -1)
            curses.init_pair(2, curses.COLOR_YELLOW, -1)
            self.colors = {"alert": curses.color_pair(1), "warn": curses.color_pair(2)}
        except curses.error:
            pass  # a terminal without colours or cursor control still shows the text
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.window.keypad(False)
        curses.nocbreak()
        curses.echo()
        curses.endwin()

    def size(self) -> tuple[int, int]:
        """Width and height."""
        height, width = self.window.getmaxyx()
        return width, height

    def draw(self, lines: Sequence[Line]) -> None:
        width, height = self.size()
        self.window.erase()
        for y, (text, style) in enumerate(lines[:height]):
            with contextlib.suppress(curses.error):  # the bottom-right cell: nothing lost
                self.window.addnstr(y, 0, text, width - 1,
                                                    self.STYLES[style] | self.colors.get(style, 0))
        self.window.refresh()

    def key(self, wait_ms: int) -> str | None:
        """The next key pressed within ``wait_ms`` (0: only one already waiting), or None."""
        self.window.timeout(wait_ms)
        try:
            pressed = self.window.get_wch()
        except curses.error:
            return None
        if isinstance(pressed, int):
            return KEY_NAMES.get(pressed, "")
        return pressed


def run(source: Source, *, min_answers: int, state: State, interval: float,
        once: bool) -> int:
    """Full screen until ``q``, or one snapshot on stdout when asked or not on a terminal.

    The first fetch must succeed (a wrong URL is one clear line, before any screen);
    later failures stay on screen while it retries.
    """
    live = Live(source, min_answers=min_answers, state=state)
    live.view = fetch(source, window=state.window, tenant=state.tenant)
    if once or not sys.stdout.isatty():
        width = shutil.get_terminal_size((200, 50)).columns if sys.stdout.isatty() else None
        print("\n".join(text for text, _ in live.lines(width=width)))
        return 0
    with Terminal() as terminal:
        due = time.monotonic() + interval
        while not live.quit:
            terminal.draw(live.lines(*terminal.size()))
            key = terminal.key(int(max(0.0, due - time.monotonic()) * 1000))
            if (key and live.press(key)) or time.monotonic() >= due:
                live.refresh()
                due = time.monotonic() + interval
    return 0
