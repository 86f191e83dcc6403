"""Writing and editing a workaround article from a major case (``w`` on the manager and agent
screens): a title, a multi-line body, and beside them the article exactly as customers will see
it (``customer_line``/``customer_text``, the same normalising every customer channel applies).

``ArticleDialog(case_number, submit, article=None)``: Ctrl+S saves (``submit(title, body)``),
Esc cancels; Enter in the body starts a new line. A refusal stays in the dialog as one line,
with what was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea

from pcso_tui.domain.communications.views import ArticleView
from pcso_tui.domain.core.errors import DomainError
from pcso_tui.domain.core.text import customer_line, customer_text, one_line
from pcso_tui.screens.base import ModeScreen, workspace

Submit = Callable[[str, str], Awaitable[ArticleView]]


def customer_preview(title: str, body: str) -> Content:
    """The article as customers read it (portal, notices, status page)."""
    shown_title = customer_line(title) or "(no title yet)"
    shown_body = customer_text(body) or "(no text yet)"
    return Content.assemble((shown_title, "bold"), "\n\n", Content(shown_body))


class ArticleDialog(ModalScreen[ArticleView | None]):
    DEFAULT_CSS = """
    ArticleDialog {
        align: center middle;
    }
    ArticleDialog #article-box {
        width: 100%;
        height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    ArticleDialog #article-panes {
        height: 1fr;
    }
    ArticleDialog #article-edit, ArticleDialog #article-preview-box {
        width: 1fr;
        height: 1fr;
    }
    ArticleDialog #article-preview-box {
        border-left: vkey $primary 60%;
        padding: 0 0 0 1;
    }
    ArticleDialog TextArea {
        height: 1fr;
    }
    ArticleDialog .label, ArticleDialog #article-hint {
        color: $text-muted;
        height: 1;
    }
    ArticleDialog #article-error {
        color: $text-error;
        height: auto;
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="article.save"),
        Binding("escape", "cancel", "Cancel", id="article.cancel"),
    ]

    def __init__(self, case_number: str, submit: Submit, article: ArticleView | None = None) -> None:
        super().__init__()
        self.case_number = case_number
        self.submit = submit
        self.article = article
        self.error: str | None = None
        self.saving = False

    def compose(self) -> ComposeResult:
        box = Vertical(id="article-box")
        what = f"Edit {self.article.number}" if self.article else "New workaround article"
        box.border_title = Content(f"{what} on {self.case_number}")
        with box:
            with Horizontal(id="article-panes"):
                with Vertical(id="article-edit"):
                    yield Static(Content("Title"), classes="label")
                    yield Input(value=self.article.title if self.article else "", id="article-title")
                    yield Static(Content("Text (Enter: new line)"), classes="label")
                    yield TextArea(self.article.body if self.article else "", id="article-body", soft_wrap=True)
                with Vertical(id="article-preview-box"):
                    yield Static(Content("As customers will see it"), classes="label")
                    with VerticalScroll():
                        yield Static(self._preview(), id="article-preview")
            yield Static("", id="article-error")
            yield Static(Content("Ctrl+S saves · Esc cancels · Tab moves between fields"), id="article-hint")

    def on_mount(self) -> None:
        self.query_one("#article-title", Input).focus()

    def _preview(self) -> Content:
        if not self.is_mounted:
            return customer_preview(
                self.article.title if self.article else "", self.article.body if self.article else ""
            )
        return customer_preview(self.title_text, self.body_text)

    @property
    def title_text(self) -> str:
        return self.query_one("#article-title", Input).value

    @property
    def body_text(self) -> str:
        return self.query_one("#article-body", TextArea).text

    @property
    def preview(self) -> Static:
        return self.query_one("#article-preview", Static)

    @on(Input.Changed, "#article-title")
    @on(TextArea.Changed, "#article-body")
    def _changed(self) -> None:
        self.preview.update(self._preview())

    @on(Input.Submitted, "#article-title")
    def _title_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#article-body", TextArea).focus()

    def _show_error(self, error: str | None) -> None:
        self.error = error
        self.query_one("#article-error", Static).update(Content(error or ""))

    def action_save(self) -> None:
        if self.saving:
            return
        title, body = self.title_text, self.body_text
        if not title.strip():
            self._show_error("A title is required")
            return
        if not body.strip():
            self._show_error("The text is required")
            return
        self.saving = True
        self.run_worker(self._save(title, body), group="article-save", exit_on_error=False)

    async def _save(self, title: str, body: str) -> None:
        try:
            result = await workspace(self).domain_call(self.submit(title, body))
        except DomainError as exc:
            self.saving = False
            self._show_error(one_line(exc.message, 300))
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _done(screen: ModeScreen, what: str) -> Callable[[ArticleView | None], None]:
    def callback(article: ArticleView | None) -> None:
        if article is not None:
            screen.notify(f"{article.number} {what}", markup=False)
            screen.work.wake_feed()
            refresh = getattr(screen, "changed", None)
            if refresh is not None:
                refresh()

    return callback


def _may_write(screen: ModeScreen) -> bool:
    from pcso_tui.domain.core.roles import PERMISSIONS, Permission

    actor = screen.session.actor
    if Permission.MANAGE_ARTICLES in PERMISSIONS[actor.role]:
        return True
    screen.notify(
        f"{actor.name} ({actor.role.value}) may not manage knowledge articles: ask an agent or a manager",
        title="Refused",
        severity="warning",
        markup=False,
    )
    return False


def write_article(screen: ModeScreen, case_id: int, case_number: str) -> None:
    """The editor for a new article on major case ``case_id`` (refused at once without the right)."""
    if not _may_write(screen):
        return
    from pcso_tui.domain.communications.articles import create_article

    session = screen.session

    async def submit(title: str, body: str) -> ArticleView:
        return await create_article(session.domain, session.actor, title=title, body=body, attach_to=case_id)

    screen.app.push_screen(
        ArticleDialog(case_number, submit), callback=_done(screen, f"written and attached to {case_number}")
    )


def edit_article(screen: ModeScreen, case_id: int, case_number: str) -> None:
    """The editor for the newest article attached to ``case_id`` (saved with its version)."""
    if not _may_write(screen):
        return
    from pcso_tui.domain.communications.articles import list_articles, update_article

    session = screen.session

    def edit(articles: list[ArticleView]) -> None:
        if not articles:
            screen.notify(f"No article is attached to {case_number} yet: w writes one", markup=False)
            return
        article = max(articles, key=lambda a: a.updated_at)

        async def submit(title: str, body: str) -> ArticleView:
            return await update_article(
                session.domain, session.actor, article.number, title=title, body=body, expected_version=article.version
            )

        screen.app.push_screen(ArticleDialog(case_number, submit, article), callback=_done(screen, "saved"))

    screen.work.run_command(list_articles(session.domain, session.actor, case_id=case_id), edit, group="article")
