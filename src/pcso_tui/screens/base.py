"""The plumbing every mode screen shares; the bodies live in the per-mode modules.

A mode screen is::

    class OperatorScreen(ModeScreen):
        MODE = "operator"

        def compose_body(self) -> ComposeResult:      # everything between header and footer
            yield AlertTable()

        def on_events_arrived(self, message: EventsArrived) -> None:   # the live feed
            ...

        def palette_commands(self) -> Iterable[PaletteCommand]:        # optional
            ...

``ModeScreen`` gives it the header (product, mode, user, role, database, feed state), the
footer, the App's live feed (it subscribes itself when mounted) and ``self.session``: the
domain, the signed-in actor and whether the database is a demo world; and ``self.work``, its
``DomainWork``: every domain call runs through it (below), read models only.

Domain work: ``DomainWork``
    Every screen (and any widget) does its domain calls through one ``DomainWork`` — a mode
    screen has it as ``self.work``; a widget makes its own ``DomainWork(self)``::

        self.work.load(lambda: list_cases(...), self.show_cases, group="agent-queue")
        self.work.run_command(approve_major_case(...), done=self._approved)
        self.alerts = self.work.refresh("alerts", self._load_alerts, spacing=2.0)
        self.alerts.request(delay=0.25)      # events: coalesced, one run at a time
        self.alerts.poll()                   # a timer: skipped while something covers the screen
        self.alerts.resume()                 # on_screen_resume: catch up what was skipped

    - ``load(call, on_result, group=)``: ``call()`` in a worker of ``group`` (a newer load of
      the same group replaces an older one), ``on_result(result)`` if the node is still there,
      then ``Loaded(group)`` is posted to the node.
    - ``run_command(call, done=)``: a command in a worker; ``done(result)`` when it succeeded.
    - ``refresh(name, job)``: a ``Refresh`` — requested as often as you like, never more than
      one run at a time; a request during a run makes exactly one more once it ended (armed
      after the last finished, never sooner than ``spacing`` × its duration after it). A job
      calls ``self.work.call(...)`` for each domain call, and ``self.work.loaded(name)`` once
      what it read is shown.

    Each runs in a worker named by its group with ``exit_on_error=False``, goes through the
    App's ``domain_call`` (a cancelled worker never cuts a database round trip in half), and
    shows a refusal (``DomainError``) as one notification: this module is the one place that
    catches it for screens. ``workspace(node)`` is the App, typed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker

from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.text import one_line
from pcso_tui.screens.modes import MODES, Mode
from pcso_tui.screens.session import WorkspaceSession
from pcso_tui.widgets.event_ticker import EventTicker
from pcso_tui.widgets.feed import EventsArrived
from pcso_tui.widgets.header import WorkspaceFooter, WorkspaceHeader
from pcso_tui.widgets.palette import PaletteCommand

if TYPE_CHECKING:
    from pcso_tui.app import PcsoApp

__all__ = [
    "DomainWork",
    "Loaded",
    "ModeScreen",
    "Refresh",
    "WorkspaceSession",
    "apply_cursor_blink",
    "placeholder_body",
    "signed_in",
    "workspace",
]

T = TypeVar("T")
GOTO_DIALOG = "pcso_tui.screens.goto:GotoDialog"
log = logging.getLogger(__name__)


def workspace(node: DOMNode) -> PcsoApp:
    """The App of ``node``, typed (screens and dialogs run only inside ``PcsoApp``)."""
    return cast("PcsoApp", node.app)


def signed_in(node: DOMNode) -> WorkspaceSession:
    """Who is signed in to which database, for a screen or widget of the workspace."""
    session = workspace(node).session
    if session is None:
        raise RuntimeError("the workspace has no signed-in session yet")
    return session


class Loaded(Message, bubble=False):
    """A load or refresh of a screen finished and what it read is shown (``name``: its group).

    Posted to the node that loaded; tests wait on it (``run_test(message_hook=...)``)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class Refresh:
    """One named read of a screen or widget: request it as often as you like.

    A request waits ``delay`` seconds (a burst makes one run), never starts while the last run
    is going (it is marked and run once that one ended: armed after the last finished) and never
    sooner than ``spacing`` times the last run's duration after it. ``now()`` (a key was
    pressed) skips both waits. ``poll()`` is for timers: while another screen or a dialog covers
    this one it only marks the read stale, and ``resume()`` (from ``on_screen_resume``) runs it.
    """

    def __init__(
        self,
        work: DomainWork,
        name: str,
        job: Callable[[], Awaitable[None]],
        *,
        group: str | None = None,
        delay: float = 0.0,
        spacing: float = 0.0,
    ) -> None:
        self.work = work
        self.name = name
        self.job = job
        self.group = group or name
        self.delay = delay
        self.spacing = spacing
        self.running = False
        self.dirty = False
        self.urgent = False
        self.stale = False
        self.timer: Timer | None = None
        self.finished_at = 0.0
        self.took = 0.0

    def request(self, *, delay: float | None = None) -> None:
        """Run soon: after ``delay`` (default: this refresh's own delay and spacing)."""
        if self.running:
            self.dirty = True
            return
        if self.timer is not None:
            return
        if delay is None:
            rest = self.finished_at + self.spacing * self.took - time.monotonic()
            delay = max(self.delay, rest)
        if delay <= 0:
            self.start()
        else:
            self.timer = self.work.node.set_timer(delay, self.start, name=f"{self.group} refresh")

    def now(self) -> None:
        """Run at once (a key was pressed): a pending timer is not waited for."""
        if self.running:
            self.dirty = self.urgent = True
            return
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        self.request(delay=0)

    def poll(self) -> None:
        """A timer's request: skipped (marked stale) while this screen is not in front."""
        if not self.work.in_front:
            self.stale = True
            return
        self.request()

    def resume(self) -> None:
        """The screen is in front again: run what was skipped meanwhile."""
        if self.stale:
            self.stale = False
            self.request(delay=0)

    def start(self) -> None:
        self.timer = None
        if self.work.closing:
            return
        if self.running:
            self.dirty = True
            return
        self.running = True
        self.dirty = self.urgent = False
        self.work.node.run_worker(self._run(), name=self.name, group=self.group, exit_on_error=False)

    async def _run(self) -> None:
        began = time.monotonic()
        try:
            await self.job()
        except asyncio.CancelledError:
            self.work.stopped = True  # the screen or the App is closing
            raise
        except DomainError as exc:
            self.work.refused(exc)
        except Exception as exc:  # a lost connection, a locked database …: say so, keep going
            log.warning("reading %s failed", self.name, exc_info=True)
            self.work.node.notify(
                f"could not read the {self.name}: {one_line(str(exc), 200)}", severity="error", markup=False
            )
        finally:
            self.finished_at = time.monotonic()
            self.took = self.finished_at - began
            self.running = False
            if self.dirty and not self.work.closing:
                urgent, self.dirty, self.urgent = self.urgent, False, False
                self.request(delay=0 if urgent else None)


class DomainWork:
    """The domain calls of one screen or widget: loads, refreshes and commands (module docstring)."""

    def __init__(self, node: Widget) -> None:
        self.node = node
        self.stopped = False  # a refresh was cancelled: the node or the App is going

    @property
    def app(self) -> PcsoApp:
        return workspace(self.node)

    @property
    def in_front(self) -> bool:
        """Whether the node's screen is the one in front (no other screen or dialog over it)."""
        return self.node.app.screen is self.node.screen

    @property
    def closing(self) -> bool:
        """True once the node or the App is going: no new reads may start then.

        The App releases the database by cancelling every worker (the feed's too), waiting for
        the calls in flight and closing it; a read started meanwhile would hold a connection
        open past the close.
        """
        if self.stopped or not self.node.is_attached or getattr(self.node.app, "domain", None) is None:
            return True
        return any(worker.is_cancelled for worker in self.node.app.workers if worker.group == "feed")

    async def call(self, call: Awaitable[T]) -> T:
        """Await one domain call (from a worker) through the App; a refusal propagates."""
        return await self.app.domain_call(call)

    def refused(self, exc: DomainError) -> None:
        """A refusal, as one notification."""
        self.node.notify(one_line(exc.message, 300), title="Refused", severity="error", markup=False)

    def loaded(self, name: str) -> None:
        """Say that ``name`` was read and shown (``Loaded`` to the node)."""
        self.node.post_message(Loaded(name))

    def wake_feed(self) -> None:
        """Show what this process just committed without waiting for the next poll."""
        self.app.wake_feed()

    def load(self, call: Callable[[], Awaitable[T]], on_result: Callable[[T], object], *, group: str) -> Worker[None]:
        """``call()`` in a worker of ``group`` (replacing an older load of that group), then
        ``on_result(result)`` if the node is still there; a refusal is a notification."""
        # A callable, not a coroutine: an exclusive worker replaced before it starts never awaits it.
        return self.node.run_worker(
            partial(self._load, call, on_result, group), name=group, group=group, exclusive=True, exit_on_error=False
        )

    async def _load(self, call: Callable[[], Awaitable[T]], on_result: Callable[[T], object], group: str) -> None:
        try:
            result = await self.call(call())
        except DomainError as exc:
            self.refused(exc)
            return
        if not self.node.is_attached:
            return
        on_result(result)
        self.loaded(group)

    def run_command(
        self,
        call: Awaitable[T],
        done: Callable[[T], object] | None = None,
        *,
        group: str = "command",
        refused: Callable[[DomainError], object] | None = None,
    ) -> Worker[None]:
        """A domain command in a worker of ``group``: ``done(result)`` if it succeeded, one
        notification (then ``refused(error)``, for a dialog's own error line) if it was refused."""
        work = self._command(call, done, refused)
        return self.node.run_worker(work, name=group, group=group, exit_on_error=False)

    async def _command(
        self,
        call: Awaitable[T],
        done: Callable[[T], object] | None,
        refused: Callable[[DomainError], object] | None,
    ) -> None:
        try:
            result = await self.call(call)
        except DomainError as exc:
            self.refused(exc)
            if refused is not None:
                refused(exc)
            return
        if done is not None:
            done(result)

    def refresh(
        self,
        name: str,
        job: Callable[[], Awaitable[None]],
        *,
        group: str | None = None,
        delay: float = 0.0,
        spacing: float = 0.0,
    ) -> Refresh:
        """A ``Refresh`` running ``job`` (see its docstring)."""
        return Refresh(self, name, job, group=group, delay=delay, spacing=spacing)


def apply_cursor_blink(screen: Screen[Any]) -> None:
    """Follow the App's ``cursor_blink`` (snapshot runs turn blinking off)."""
    blink = getattr(screen.app, "cursor_blink", True)
    for widget in screen.query("Input, TextArea"):
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = blink


class ModeScreen(Screen[None]):
    MODE: ClassVar[str] = ""

    BINDINGS = [Binding("ctrl+g", "goto", "Go to", show=False, id="workspace.goto")]

    DEFAULT_CSS = """
    ModeScreen #mode-body {
        height: 1fr;
        padding: 0 1;
    }
    ModeScreen .mode-intro {
        height: auto;
        padding: 0 0 1 0;
    }
    """

    @property
    def mode(self) -> Mode:
        return MODES[self.MODE]

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.work = DomainWork(self)

    @property
    def workspace(self) -> PcsoApp:
        """The App, typed."""
        return workspace(self)

    @property
    def session(self) -> WorkspaceSession:
        session = getattr(self.app, "session", None)
        if session is None:
            raise RuntimeError("a mode screen needs a signed-in session")
        return session

    def compose(self) -> ComposeResult:
        session = self.session
        yield WorkspaceHeader(
            mode_title=self.mode.title,
            user=session.user_label,
            role=session.actor.role.value,
            database=session.database,
        )
        with Vertical(id="mode-body"):
            yield from self.compose_body()
        yield WorkspaceFooter(compact=True)

    def compose_body(self) -> ComposeResult:
        """What the mode shows between header and footer (the per-mode modules fill it)."""
        yield from ()

    def on_mount(self) -> None:
        subscribe = getattr(self.app, "subscribe_events", None)
        if subscribe is not None:
            subscribe(self)

    def on_unmount(self) -> None:
        unsubscribe = getattr(self.app, "unsubscribe_events", None)
        if unsubscribe is not None:
            unsubscribe(self)

    def on_screen_resume(self) -> None:
        apply_cursor_blink(self)

    def action_goto(self) -> None:
        """A record by number or name (``screens.goto``), from any mode screen."""
        # By name, as modes.py names the screens: the go-to dialog opens screens built on this
        # module, so a plain import here would be a cycle.
        module, _, name = GOTO_DIALOG.partition(":")
        self.app.push_screen(getattr(import_module(module), name)())

    def on_events_arrived(self, message: EventsArrived) -> None:
        """New events (oldest first); screens override this to update their tables by key."""

    def palette_commands(self) -> Iterable[PaletteCommand]:
        """Commands this screen adds to the command palette."""
        return ()


def placeholder_body(screen: ModeScreen, *, ticker: EventTicker | None = None) -> ComposeResult:
    """A mode's title, what it is for, who is signed in, and the live event ticker."""
    session = screen.session
    mode = screen.mode
    intro = Content.assemble(
        (mode.title, "bold"),
        ("  —  ", "$text-muted"),
        (mode.summary, "$text-muted"),
        "\n",
        ("Signed in as ", "$text-muted"),
        one_line(session.user_label),
        (f" ({session.actor.role.value})", "$text-muted"),
    )
    yield Static(intro, classes="mode-intro")
    yield ticker or EventTicker()
