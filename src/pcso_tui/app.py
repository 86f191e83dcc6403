"""The Textual workspace: one mode per role, the live feed, themes, help and the palette.

Start-up
    ``pcso`` (no subcommand) calls ``run_workspace``; ``create_app(connection, ...)`` builds the
    App for the CLI and the tests alike (``pcso_tui.connection.Connection``: database, config
    file, ``--as``; the App never imports ``pcso_tui.cli``).

    The first frame is the connecting screen: this module and everything it imports at module
    level stay clear of SQLAlchemy, aiosqlite and alembic. After that frame a worker loads the
    database stack (on a thread), opens the domain and signs in; a refusal (unknown user …) is
    shown as one line on the connecting screen and becomes the exit code. Then the App switches
    to the role's mode (``screens.modes``): operator, agent, manager, portal (customers) or dashboard.

The live feed
    One ``EventFollower`` per App, started after sign-in as an App-level worker (group
    ``feed``), so it survives screen and mode changes. New events are gathered for
    ``COALESCE_SECONDS`` and posted to the App as one ``widgets.feed.EventsArrived`` message
    (queued ones merge through ``can_replace``). The App keeps the last ``RECENT_EVENTS`` in
    ``app.recent_events`` and hands a copy of each message to every subscriber.

    To follow the feed:

    - a mode screen (``screens.base.ModeScreen``) is subscribed for you; handle it::

          def on_events_arrived(self, message: EventsArrived) -> None:
              for event in message.events:          # oldest first, EventView read models
                  ...                               # update tables by key (SafeTable)

    - any other widget or screen: ``self.app.subscribe_events(self)`` in ``on_mount`` and
      ``self.app.unsubscribe_events(self)`` in ``on_unmount`` (detached nodes are dropped
      anyway), then the same handler. Start from ``self.app.recent_events`` if useful.
    - after this process commits, ``self.app.wake_feed()`` shows the change without waiting
      for the next poll.

    The header shows "● live" while polls succeed and "◌ stale" when they stop (the follower is
    restarted with back-off). Customers see only what is theirs: the portal filters.

Domain calls
    ``await app.domain_call(command(...))`` from any worker: the call runs as its own task, so
    cancelling the worker never cuts a database round trip in half, and the App waits for
    calls in flight before it closes the database.

Background jobs
    ``PcsoApp(..., background=[job, …])``: each ``job(domain, stop)`` is a coroutine function the
    App starts as a task of its own once the first mode screen is up (never before the first
    frame) and stops on the way out by setting ``stop``, before it closes the database (a job
    still running ten seconds later is cancelled). ``pcso demo`` runs its outage simulation and
    delivery worker this way (``DemoApp``: it also quits on Ctrl+C). A job that fails is logged
    and named in a notification; the workspace goes on.

Signals
    SIGHUP (the terminal closed) and SIGTERM end the App cleanly: workers cancelled, the
    follower's connections and the database closed; the exit code is 128 + the signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker

from pcso_tui.connection import Connection
from pcso_tui.domain.core.errors import DomainError, PermissionDenied
from pcso_tui.domain.core.roles import STAFF_ROLES, Permission, Role
from pcso_tui.domain.core.text import one_line
from pcso_tui.domain.core.views import EventView
from pcso_tui.screens import modes as workspace_modes
from pcso_tui.screens.connecting import ConnectingScreen
from pcso_tui.screens.session import WorkspaceSession
from pcso_tui.widgets.cells import theme_variable_defaults
from pcso_tui.widgets.feed import EventsArrived, FeedState, announcement
from pcso_tui.widgets.themes import builtin_themes_dir, load_themes, user_themes_dir

if TYPE_CHECKING:
    from textual.command import Provider

    from pcso_tui.domain.core.clock import Clock
    from pcso_tui.domain.core.feed import EventFollower
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.widgets.palette import PaletteCommand

log = logging.getLogger(__name__)
T = TypeVar("T")
# A background job: ``job(domain, stop)`` runs until ``stop`` is set (see the module docstring).
BackgroundJob = Callable[["Domain", asyncio.Event], Awaitable[object]]
BACKGROUND_STOP_SECONDS = 10.0

DEFAULT_THEME = "pcso-dark"
# Themes shipped with pcso: listed first in the palette.
OWN_THEME_PREFIX = "pcso-"
RECENT_EVENTS = 200
COALESCE_SECONDS = 0.15
FEED_INTERVAL = 0.2
STALE_AFTER = 3.0
MIN_FEED_BACKOFF = 0.5
MAX_FEED_BACKOFF = 10.0
EXIT_ON_SIGNAL = {signal.SIGHUP: 128 + signal.SIGHUP, signal.SIGTERM: 128 + signal.SIGTERM}


def _load_domain_stack() -> None:
    """Import the database stack (run on a thread, after the first frame)."""
    for module in (
        "pcso_tui.domain.core.service",
        "pcso_tui.domain.core.users",
        "pcso_tui.domain.core.audit",
        "pcso_tui.domain.core.feed",
        "pcso_tui.plugins",
    ):
        import_module(module)


def _screen_factory(mode: str) -> Callable[[], Screen[Any]]:
    def make() -> Screen[Any]:
        module, _, name = workspace_modes.MODES[mode].screen.partition(":")
        return getattr(import_module(module), name)()

    make.__name__ = f"make_{mode}_screen"
    return make


def _workspace_commands() -> type[Provider]:
    # Imported when the palette first opens, not before the first frame.
    from pcso_tui.widgets.palette import WorkspaceCommands

    return WorkspaceCommands


def _goto_commands() -> type[Provider]:
    from pcso_tui.screens.goto import GotoCommands

    return GotoCommands


def _redact(url: str) -> str:
    """A URL without its password."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}" if ":" in credentials else url
    return url


def _short_path(path: str) -> str:
    """``…/parent/file`` for long paths, so the header fits 80 columns."""
    full = Path(path).expanduser()
    home = Path.home()
    shown = f"~/{full.relative_to(home)}" if full.is_relative_to(home) else str(full)
    if len(shown) <= 24 or len(full.parts) < 3:
        return shown
    return f"…/{full.parent.name}/{full.name}"


def database_label(url: str | None) -> str:
    """How the header names the database: the file for SQLite, the URL (no password) otherwise."""
    if not url:
        return "embedded database"
    if "://" not in url:
        return _short_path(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        return _short_path(path) if path else url
    return _redact(url)


# The F-keys of the other screens share one footer entry ("F3 F4 F6 screens"), so at 80
# columns an admin's footer still shows q Quit; help lists each by name.
SCREEN_KEYS = Binding.Group("screens")


class PcsoApp(App[int]):
    """The workspace. ``create_app(connection).run()``; see the module docstring."""

    TITLE = "pcso"
    SUB_TITLE = "proactive customer service operations"
    COMMANDS = {_workspace_commands, _goto_commands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    MODES = {name: _screen_factory(name) for name in workspace_modes.MODES}
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("f1", "help", "Help", show=False, id="app.help_f1"),
        *(
            Binding(
                mode.key,
                f"switch_to('{mode.name}')",
                mode.name.capitalize(),
                tooltip=mode.summary,
                id=f"app.mode.{mode.name}",
                group=SCREEN_KEYS,
            )
            for mode in workspace_modes.MODES.values()
        ),
        # The same keys for the screens the user may not open: they say why, never nothing.
        *(
            Binding(mode.key, f"mode_closed('{mode.name}')", show=False, id=f"app.mode_closed.{mode.name}")
            for mode in workspace_modes.MODES.values()
        ),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    feed_state: reactive[FeedState] = reactive("connecting")

    def __init__(
        self,
        connection: Connection,
        *,
        clock: Clock | None = None,
        state_file: Path | None = None,
        theme_dirs: Iterable[Path] | None = None,
        feed_interval: float = FEED_INTERVAL,
        coalesce_seconds: float = COALESCE_SECONDS,
        cursor_blink: bool = True,
        handle_signals: bool | None = None,
        background: Sequence[BackgroundJob] = (),
        start_mode: str | None = None,
        preview_account: str | None = None,
    ) -> None:
        super().__init__()
        # ``pcso portal``: open this mode instead of the role's home (refused if not open to it);
        # ``pcso portal --preview ACCOUNT``: the home mode with the account's portal preview on top.
        self.start_mode = start_mode
        self.preview_account = preview_account
        self.connection = connection
        self.clock = clock
        self.state_file = state_file
        self.theme_dirs = list(theme_dirs) if theme_dirs is not None else None
        self.feed_interval = feed_interval
        self.coalesce_seconds = coalesce_seconds
        self.cursor_blink = cursor_blink
        self.handle_signals = handle_signals
        self.domain: Domain | None = None
        self.session: WorkspaceSession | None = None
        self.follower: EventFollower | None = None
        self.failure: DomainError | None = None
        self.recent_events: deque[EventView] = deque(maxlen=RECENT_EVENTS)
        self.theme_errors: list[str] = []
        self._subscribers: dict[Any, None] = {}
        self._pending_events: list[EventView] = []
        self._flush_timer: Any = None
        self._last_poll = 0.0
        self._feed_backoff = MIN_FEED_BACKOFF
        self._feed_worker: Worker[None] | None = None
        self._connect_worker: Worker[None] | None = None
        self._failure_code = 0
        self._themes_ready = False
        self._signals: list[int] = []
        self._hangup_task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Future[Any]] = set()
        self._background_jobs = list(background)
        self._background: set[asyncio.Task[None]] = set()
        self._background_stop = asyncio.Event()

    # --- first frame ---------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return ConnectingScreen()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults()

    def on_mount(self) -> None:
        self._register_themes()
        self._install_signal_handlers()
        try:
            target = database_label(self.connection.database_url)
        except DomainError as exc:  # a broken config file
            self._fail(exc)
            return
        screen = self.screen
        if isinstance(screen, ConnectingScreen):
            screen.set_target(database=target, user=self.connection.user_name())
        # Load the database stack only once the first frame is out.
        self.call_after_refresh(self._start_connecting)

    def _start_connecting(self) -> None:
        self._connect_worker = self.run_worker(self._connect(), name="connect", group="domain", exit_on_error=False)

    async def _connect(self) -> None:
        try:
            await asyncio.to_thread(_load_domain_stack)
            from pcso_tui.domain.core.users import current_user, is_demo

            domain = await self.domain_call(self._open_domain())
            actor = await self.domain_call(self.connection.sign_in(domain))
            demo = await self.domain_call(is_demo(domain))
            user = await self.domain_call(current_user(domain, actor)) if actor.user_id is not None else None
        except DomainError as exc:
            self._fail(exc)
            return
        except Exception as exc:
            log.exception("opening the workspace failed")
            self._fail(DomainError(f"cannot open the database: {one_line(str(exc), 200)}"))
            return
        self.session = WorkspaceSession(
            domain=domain, actor=actor, user=user, demo=demo, database=database_label(str(domain.db.url))
        )
        start = self.start_mode if self.preview_account is None else None
        if start is not None and not self.may_open(start):
            title = workspace_modes.MODES[start].title if start in workspace_modes.MODES else start
            hint = "; staff preview an account with `pcso portal --preview ACCOUNT`" if start == "portal" else ""
            self._fail(PermissionDenied(f"the {title} is not open to the {actor.role.value} role{hint}"))
            return
        await self._start_feed()
        await self.switch_mode(start or workspace_modes.home_mode(actor.role))
        if self.preview_account is not None:
            from pcso_tui.screens.portal import PreviewScreen

            await self.push_screen(PreviewScreen(self.preview_account))
        self.refresh_bindings()
        if self._background_jobs:
            self.call_after_refresh(self._start_background)

    async def _open_domain(self) -> Domain:
        domain = await self.connection.open_domain()
        self.domain = domain  # set here, so that _release closes it even if the caller was cancelled
        if self.clock is not None:
            domain.clock = self.clock
        return domain

    async def domain_call(self, call: Awaitable[T]) -> T:
        """Await a domain call that cancelling the caller never cuts in half.

        Workers are cancelled when their screen goes or the App closes; cancelling an await
        inside a database round trip leaves the connection half-closed (on SQLite its thread can
        outlive the App). The call runs as a task of its own: the caller may be cancelled, the
        call still finishes, and the App waits for it before it closes the database.
        """
        task = asyncio.ensure_future(call)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    def _fail(self, exc: DomainError) -> None:
        self.failure = exc
        self._failure_code = exc.exit_code
        screen = self._connecting_screen()
        if screen is not None:
            screen.show_failure(f"pcso: {exc.message}")
        else:
            self.notify(one_line(exc.message), severity="error", markup=False)

    def _connecting_screen(self) -> ConnectingScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, ConnectingScreen):
                return screen
        return None

    # --- the live feed -------------------------------------------------------------------

    async def _start_feed(self) -> None:
        assert self.domain is not None and self.session is not None
        from pcso_tui.domain.core.audit import list_events
        from pcso_tui.domain.core.feed import EventFollower

        app = self

        class WatchedFollower(EventFollower):
            async def poll(self) -> list[EventView]:
                events = await app.domain_call(EventFollower.poll(self))
                app._polled()
                return events

        follower = WatchedFollower(self.domain.db, interval=self.feed_interval)
        await self.domain_call(follower.start())
        actor = self.session.actor
        if actor.can(Permission.VIEW_EVENTS) and follower.last_id:
            since = max(0, follower.last_id - RECENT_EVENTS)
            recent = await self.domain_call(list_events(self.domain, actor, since_id=since, limit=RECENT_EVENTS))
            self.recent_events.extend(recent)
        follower.subscribe(self._on_feed)
        self.follower = follower
        self._feed_worker = self.run_worker(
            self._follow(follower), name="event feed", group="feed", exit_on_error=False
        )
        self.set_interval(0.5, self._check_feed, name="feed staleness")

    async def _follow(self, follower: EventFollower) -> None:
        while True:
            try:
                await follower.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("the event feed failed; retrying in %.1f s", self._feed_backoff, exc_info=True)
                self.feed_state = "stale"
                await asyncio.sleep(self._feed_backoff)
                self._feed_backoff = min(self._feed_backoff * 2, MAX_FEED_BACKOFF)

    def _polled(self) -> None:
        self._feed_backoff = MIN_FEED_BACKOFF
        self._last_poll = time.monotonic()
        if self.feed_state != "live":
            self.feed_state = "live"

    def _check_feed(self) -> None:
        if self.follower is None or not self._last_poll:
            return
        idle = self.feed_interval * (10 if self.follower.db.is_postgresql else 1)
        if time.monotonic() - self._last_poll > max(STALE_AFTER, 3 * idle):
            self.feed_state = "stale"

    def _on_feed(self, events: list[EventView]) -> None:
        self._pending_events.extend(events)
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(self.coalesce_seconds, self._flush_feed, name="feed coalesce")

    def _flush_feed(self) -> None:
        self._flush_timer = None
        batch, self._pending_events = self._pending_events, []
        if batch:
            self.post_message(EventsArrived(batch))

    def on_events_arrived(self, message: EventsArrived) -> None:
        self.recent_events.extend(message.events)
        self._announce(message.events)
        for node in list(self._subscribers):
            if not node.is_attached:
                self._subscribers.pop(node, None)
                continue
            node.post_message(EventsArrived(message.events))

    def _announce(self, events: list[EventView]) -> None:
        """``[workspace] bell``: ring and say so when a critical alert or an incident arrives."""
        session, domain = self.session, self.domain
        if session is None or domain is None or session.actor.role not in STAFF_ROLES:
            return
        words = announcement(events, domain.settings.workspace.bell)
        if words is not None:
            self.bell()
            self.notify(words, title="New", severity="warning", timeout=8, markup=False)

    def subscribe_events(self, node: Any) -> None:
        """Deliver ``EventsArrived`` to ``node`` (a screen or widget) from now on."""
        self._subscribers[node] = None

    def unsubscribe_events(self, node: Any) -> None:
        self._subscribers.pop(node, None)

    def wake_feed(self) -> None:
        """Poll now (call after this process committed a change)."""
        if self.follower is not None:
            self.follower.wake()

    # --- background jobs -------------------------------------------------------------------

    def _start_background(self) -> None:
        domain = self.domain
        if domain is None or self._background_stop.is_set():
            return
        for job in self._background_jobs:
            task = asyncio.get_running_loop().create_task(
                self._run_background(job, domain), name=f"background {getattr(job, '__name__', job)}"
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        self._background_jobs = []

    async def _run_background(self, job: BackgroundJob, domain: Domain) -> None:
        name = getattr(job, "__name__", "a background job")
        try:
            await job(domain, self._background_stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("background job %s failed", name)
            self.notify(f"{name} stopped: {one_line(str(exc), 200)}", severity="error", markup=False)

    @property
    def background_running(self) -> int:
        """How many background jobs are running."""
        return sum(not task.done() for task in self._background)

    async def _stop_background(self) -> None:
        self._background_stop.set()
        tasks = set(self._background)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=BACKGROUND_STOP_SECONDS)
        for task in pending:
            log.warning("background task %s did not stop in time; cancelled", task.get_name())
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=BACKGROUND_STOP_SECONDS)

    # --- modes ---------------------------------------------------------------------------

    def may_open(self, mode: str) -> bool:
        session = self.session
        return session is not None and workspace_modes.may_open(session.actor.role, mode, demo=session.demo)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_to":
            mode = str(parameters[0]) if parameters else ""
            return self.may_open(mode) and self.current_mode != mode
        if action == "mode_closed":
            mode = str(parameters[0]) if parameters else ""
            return self.session is not None and not self.may_open(mode)
        return True

    def action_mode_closed(self, mode: str) -> None:
        if self.session is not None:
            reason = workspace_modes.closed_reason(self.session.actor.role, mode)
            self.notify(reason, severity="warning", timeout=4, markup=False)

    async def action_switch_to(self, mode: str) -> None:
        session = self.session
        if session is None or mode not in workspace_modes.MODES:
            return
        if not self.may_open(mode):
            self.action_mode_closed(mode)
            return
        if session.demo:
            role = workspace_modes.persona_role(mode, session.actor.role)
            if role is not None:
                self.run_worker(self._switch_persona(mode, role), group="persona", exclusive=True, exit_on_error=False)
                return
        await self.switch_mode(mode)
        self.refresh_bindings()

    async def _switch_persona(self, mode: str, role: Role) -> None:
        """Demo worlds: become the persona of ``role`` and open ``mode``."""
        assert self.session is not None and self.domain is not None
        from pcso_tui.domain.core.users import current_user, sign_in

        name = workspace_modes.DEMO_PERSONAS[role]
        try:
            actor = await self.domain_call(sign_in(self.domain, self.connection.user_name(), as_name=name))
            user = await self.domain_call(current_user(self.domain, actor)) if actor.user_id is not None else None
        except DomainError as exc:
            self.notify(f"cannot switch to {mode}: {one_line(exc.message)}", severity="error", markup=False)
            return
        if actor.role is not role:
            self.notify(f"cannot switch to {mode}: {name!r} is not a {role.value}", severity="error", markup=False)
            return
        self.session = replace(self.session, actor=actor, user=user)
        # Screens built for the previous persona are stale: rebuild them when next opened.
        if mode != self.current_mode:
            await self._reset_mode(mode)
        await self.switch_mode(mode)
        for other in workspace_modes.MODES:
            if other != mode:
                await self._reset_mode(other)
        self.refresh_bindings()

    async def _reset_mode(self, mode: str) -> None:
        await self.remove_mode(mode)
        self.add_mode(mode, _screen_factory(mode))

    # --- help, palette, quit ---------------------------------------------------------------

    def get_key_display(self, binding: Binding) -> str:
        display = super().get_key_display(binding)
        return display.upper() if re.fullmatch(r"f\d{1,2}", display) else display

    def action_help(self) -> None:
        from pcso_tui.screens.base import ModeScreen
        from pcso_tui.screens.help import HelpScreen, help_rows

        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen
        title = "Keys"
        mode = workspace_modes.MODES.get(self.current_mode)
        own = getattr(screen, "HELP_TITLE", None)
        if own:
            title = f"Keys — {own}"
        elif isinstance(screen, ModeScreen) and mode is not None and self.session is not None:
            title = f"Keys — {mode.title}"
        elif self.session is not None:
            # A screen opened on top of a mode (the outbox …): named after itself, not the mode.
            name = re.sub(r"(?<!^)(?=[A-Z])", " ", type(screen).__name__.removesuffix("Screen")).capitalize()
            title = f"Keys — {name}"
        self.push_screen(HelpScreen(help_rows(screen), title=title))

    def palette_commands(self, screen: Screen[Any]) -> list[PaletteCommand]:
        from pcso_tui.widgets.palette import PaletteCommand

        commands: list[PaletteCommand] = []
        if self.session is not None:
            for name, mode in workspace_modes.MODES.items():
                if name != self.current_mode and self.may_open(name):
                    commands.append(
                        PaletteCommand(
                            f"Open: {mode.title}", mode.summary, partial(self.run_action, f"switch_to('{name}')")
                        )
                    )
        themes = sorted(self.available_themes, key=lambda n: (not n.startswith(OWN_THEME_PREFIX), n))
        for theme in themes:
            if theme != self.theme:
                commands.append(
                    PaletteCommand(
                        f"Theme: {theme}",
                        f"Use the {theme} theme (remembered)",
                        partial(setattr, self, "theme", theme),
                        discover=theme.startswith(OWN_THEME_PREFIX),
                    )
                )
        commands.append(PaletteCommand("Help: keys", "Every key of this screen", self.action_help))
        commands.append(PaletteCommand("Quit", "Leave pcso", partial(self.run_action, "quit")))
        return commands

    async def action_quit(self) -> None:
        self.exit(return_code=self._failure_code)

    # --- themes --------------------------------------------------------------------------

    def _register_themes(self) -> None:
        dirs = self.theme_dirs if self.theme_dirs is not None else [builtin_themes_dir(), user_themes_dir()]
        themes, self.theme_errors = load_themes(*dirs)
        for theme in themes.values():
            self.register_theme(theme)
        for error in self.theme_errors:
            self.notify(error, title="Theme not loaded", severity="warning", markup=False)
        saved = self._read_state().get("theme")
        wanted = saved if isinstance(saved, str) and saved in self.available_themes else DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        self._themes_ready = True

    def watch_theme(self, theme: str) -> None:
        if self._themes_ready:
            self._write_state({"theme": theme})

    def _state_path(self) -> Path:
        if self.state_file is not None:
            return self.state_file
        from pcso_tui.config import state_path

        return state_path()

    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self._state_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_state(self, changes: dict[str, Any]) -> None:
        path = self._state_path()
        try:
            data = self._read_state() | changes
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            self.notify(f"could not remember the choice in {path}: {exc}", severity="warning", markup=False)

    # --- signals and shutdown ------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        wanted = self.handle_signals if self.handle_signals is not None else not self.is_headless
        if not wanted:
            return
        loop = asyncio.get_running_loop()
        for signum in EXIT_ON_SIGNAL:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, partial(self._on_signal, signum))
                self._signals.append(signum)

    def _on_signal(self, signum: signal.Signals) -> None:
        code = EXIT_ON_SIGNAL[signum]
        if signum == signal.SIGHUP:
            # The terminal is gone: nothing to restore on it, and Textual's output thread dies
            # on the first write to it (its queue then blocks the normal shutdown). Release our
            # own resources, then leave.
            self._hangup_task = asyncio.get_running_loop().create_task(self._hang_up(code))
        else:
            self.exit(return_code=code)

    async def _hang_up(self, code: int) -> None:
        _detach_from_terminal()
        try:
            await asyncio.wait_for(self._release(), timeout=10)
        except Exception:
            log.exception("releasing the workspace after a hangup failed")
        logging.shutdown()
        os._exit(code)

    async def _release(self) -> None:
        """Stop the background jobs, the workers and the feed, close the database (idempotent)."""
        await self._stop_background()
        workers = [w for w in self.workers if not w.is_finished]
        for worker in workers:
            if not worker.is_cancelled:  # a second cancel would interrupt the worker's own clean-up
                worker.cancel()
        for worker in workers:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await worker.wait()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=30)
        if self.follower is not None:
            follower, self.follower = self.follower, None
            await follower.close()
        if self.domain is not None:
            domain, self.domain = self.domain, None
            await domain.close()

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            loop.remove_signal_handler(signum)
        self._signals.clear()
        await self._release()


class DemoApp(PcsoApp):
    """The workspace of ``pcso demo``: Ctrl+C quits too (a newcomer's first reflex), and a
    ``welcome`` note is shown once the background jobs start."""

    BINDINGS = [
        *PcsoApp.BINDINGS,
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.demo_quit"),
    ]

    def __init__(self, connection: Connection, *, welcome: str | None = None, **options: Any) -> None:
        super().__init__(connection, **options)
        self.welcome = welcome

    def _start_background(self) -> None:
        super()._start_background()
        if self.welcome:
            self.notify(self.welcome, title="pcso demo", timeout=15, markup=False)
            self.welcome = None


def _detach_from_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null so nothing blocks or fails on a closed terminal."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
    os.close(null)


def create_app(connection: Connection, *, demo: bool = False, welcome: str | None = None, **options: Any) -> PcsoApp:
    """The workspace for ``connection``: what ``pcso``, ``pcso portal``, ``pcso demo`` and the tests run.

    ``demo=True`` makes the ``pcso demo`` App (Ctrl+C quits too; ``welcome`` is shown once the
    background jobs start). ``options`` are ``PcsoApp``'s (clock, state_file, theme_dirs,
    background, start_mode, preview_account …).
    """
    if demo:
        return DemoApp(connection, welcome=welcome, **options)
    if welcome is not None:
        raise ValueError("welcome is for the demo App only")
    return PcsoApp(connection, **options)


def run_workspace(connection: Connection, *, start_mode: str | None = None, preview_account: str | None = None) -> int:
    """Open the workspace (on ``start_mode``, or with an account's portal preview on top);
    returns the exit code (8 for an unknown user who quits)."""
    app = create_app(connection, start_mode=start_mode, preview_account=preview_account)
    app.run()
    return app.return_code or 0
