"""Every dialog keeps one rule: Ctrl+S (and Enter outside several-line fields and choices)
sends, Space or Enter on a choice picks it, Esc cancels; choices show their state by glyph.

The dialogs run in a bare App that hands each domain call straight through, so these tests
drive the dialogs alone with keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from tests.ui.conftest import screen_text, wait_for
from textual.app import App
from textual.screen import Screen

from pcso_tui.domain.casework.views import ApprovalPreview, CaseView, CaseWording
from pcso_tui.domain.communications.views import OutageView
from pcso_tui.screens import case_dialogs, incident_dialogs
from pcso_tui.widgets.toggles import StateCheckbox, StateRadioButton

T = TypeVar("T")
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

CASE = CaseView(
    id=3,
    number="CS0000003",
    kind="proactive",
    state="new",
    major_case_state="none",
    priority=2,
    priority_name="high",
    short_description="Storage degraded",
    channel="monitoring",
    account_number="ACC-T1",
    account_name="Test Customer One",
    affected_accounts=3,
    incident_id=1,
    incident_number="INC0000001",
    incident_state="new",
    opened_at=AT,
    updated_at=AT,
    age_seconds=60,
    parent_id=None,
    parent_number=None,
    deflected=False,
    version=1,
)
OUTAGE = OutageView(
    id=1,
    number="OUT0000001",
    type="unplanned",
    status="active",
    title="Calls fail",
    details="",
    begins_at=AT,
    ends_at=None,
    service="Cloud PBX",
    ci_name=None,
    product_number=None,
    product_name=None,
    case_number="CS0000003",
    incident_number=None,
    created_at=AT,
)
PREVIEW = ApprovalPreview(
    case_id=3,
    number="CS0000003",
    short_description="Storage degraded",
    propose_reason="many",
    business_impact="calls",
    creates_new_major=False,
    accounts=3,
    children=3,
    notices=3,
    notices_skipped=0,
    accounts_without_contact=0,
)


@dataclass
class Sent:
    """What a dialog sent (the keyword arguments of its call), and what it closed with."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)

    async def submit(self, **values: Any) -> str:
        self.calls.append(values)
        return "done"


class DialogHarness(App[None]):
    """A bare App with what dialogs ask of the workspace: domain calls and the feed."""

    async def domain_call(self, call: Any) -> Any:
        return await call

    def wake_feed(self) -> None:
        pass


async def open_dialog(pilot: Any, dialog: Screen[Any], sent: Sent) -> None:
    pilot.app.push_screen(dialog, sent.results.append)
    await wait_for(pilot, lambda: pilot.app.screen is dialog, what="the dialog")
    await pilot.pause()


def typed(text: str) -> list[str]:
    return ["space" if c == " " else c for c in text]


# --- casework dialogs ---------------------------------------------------------------------------

# (build the dialog from a submit, what to type in its first field, the rest to fill before sending)
CASE_FORMS: dict[str, tuple[Callable[[Callable[..., Any]], Any], list[str]]] = {
    "propose": (lambda s: case_dialogs.propose_dialog(CASE, s), [*typed("many down"), "tab", *typed("all calls")]),
    "note": (lambda s: case_dialogs.note_dialog(CASE, s), typed("checked")),
    "wording": (lambda s: case_dialogs.wording_dialog(CASE, CaseWording(3, "CS0000003", "Calls fail", "", 1), s), []),
    "reject": (lambda s: case_dialogs.reject_dialog(CASE, s), typed("one account")),
    "statement": (lambda s: case_dialogs.statement_dialog(CASE, 2, s), typed("we are on it")),
    "resolve": (lambda s: case_dialogs.resolve_dialog(CASE, 2, s), [*typed("fixed"), "tab", *typed("rebooted")]),
    "outage": (lambda s: case_dialogs.outage_dialog(CASE, OUTAGE, s), []),
    "intake": (lambda s: case_dialogs.intake_dialog(s), [*typed("ACC-T1"), "tab", *typed("no dial tone")]),
}


@pytest.mark.parametrize("name", CASE_FORMS)
async def test_ctrl_s_sends_every_casework_form(name: str) -> None:
    build, keys = CASE_FORMS[name]
    sent = Sent()
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        dialog = build(sent.submit)
        await open_dialog(pilot, dialog, sent)
        await pilot.press(*keys, "ctrl+s")
        await wait_for(pilot, lambda: sent.results == ["done"], what="the form to be sent")
    assert len(sent.calls) == 1


@pytest.mark.parametrize("name", CASE_FORMS)
async def test_esc_cancels_every_casework_form(name: str) -> None:
    build, keys = CASE_FORMS[name]
    sent = Sent()
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        await open_dialog(pilot, build(sent.submit), sent)
        await pilot.press(*keys, "escape")
        await wait_for(pilot, lambda: sent.results == [None], what="the form to close")
    assert sent.calls == []


async def test_enter_in_a_one_line_field_sends_and_names_what_is_missing() -> None:
    sent = Sent()
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        dialog = case_dialogs.intake_dialog(sent.submit)
        await open_dialog(pilot, dialog, sent)
        await pilot.press(*typed("ACC-T1"), "enter")  # the description is still empty
        await wait_for(pilot, lambda: dialog.error is not None, what="the refusal")
        assert dialog.error == "What the customer reports is required"
        assert sent.calls == [] and pilot.app.screen is dialog
        await pilot.press(*typed("no dial tone"), "enter")
        await wait_for(pilot, lambda: sent.results == ["done"], what="the form to be sent")
    assert sent.calls[0]["short_description"] == "no dial tone"


CONFIRMATIONS = [lambda s: case_dialogs.approve_dialog(PREVIEW, s), lambda s: case_dialogs.close_dialog(CASE, 2, s)]


@pytest.mark.parametrize("build", CONFIRMATIONS)
@pytest.mark.parametrize(("key", "answer"), [("ctrl+s", "done"), ("y", "done"), ("enter", "done"), ("escape", None)])
async def test_casework_confirmations(build: Callable[..., Any], key: str, answer: str | None) -> None:
    sent = Sent()
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        await open_dialog(pilot, build(sent.submit), sent)
        await pilot.press(key)
        await wait_for(pilot, lambda: sent.results == [answer], what="the answer")


def radio_marks(dialog: Screen[Any]) -> list[str]:
    return [button.mark + " " + str(button.label) for button in dialog.query(StateRadioButton)]


async def test_a_choice_shows_its_state_by_glyph_and_enter_on_it_picks() -> None:
    sent = Sent()
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        dialog = case_dialogs.intake_dialog(sent.submit)
        await open_dialog(pilot, dialog, sent)
        assert radio_marks(dialog) == ["(•) Phone call", "( ) Email", "( ) Portal", "( ) Web form"]
        await pilot.press(*typed("ACC-T1"), "tab", *typed("no dial tone"), "shift+tab", "shift+tab")
        await pilot.press("right", "enter")  # Enter on a choice picks it; it does not send
        await wait_for(pilot, lambda: radio_marks(dialog)[1] == "(•) Email", what="email picked")
        assert radio_marks(dialog)[0] == "( ) Phone call"
        assert sent.calls == []
        await pilot.press("right", "space")  # Space picks too
        await wait_for(pilot, lambda: radio_marks(dialog)[2] == "(•) Portal", what="portal picked")
        text = screen_text(pilot.app)  # what the terminal shows: no colour needed to tell them apart
        assert "(•) Portal" in text and "( ) Email" in text
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: sent.results == ["done"], what="the form to be sent")
    assert sent.calls[0]["channel"] == "portal"


# --- the operator's incident dialogs ------------------------------------------------------------


async def open_form(pilot: Any, dialog: Screen[Any]) -> list[Any]:
    results: list[Any] = []
    pilot.app.push_screen(dialog, results.append)
    await wait_for(pilot, lambda: pilot.app.screen is dialog, what="the form")
    await pilot.pause()
    return results


INCIDENT_FORMS: dict[str, tuple[Callable[[], Any], list[str], Any]] = {
    "open incident": (
        lambda: incident_dialogs.OpenIncidentDialog(title="Disk full", severity="minor"),
        [],
        incident_dialogs.NewIncident("Disk full", "minor"),
    ),
    "note": (
        lambda: incident_dialogs.NoteDialog("Work note"),
        typed("looked"),
        incident_dialogs.Note("looked", "work_note"),
    ),
    "state": (
        lambda: incident_dialogs.StateDialog("new"),
        [],
        incident_dialogs.StateChange("in_progress", ""),
    ),
    "eta": (lambda: incident_dialogs.EtaDialog(AT, None), typed("+2h"), None),
    "resolve": (
        lambda: incident_dialogs.ResolveDialog(),
        ["tab", *typed("swapped disk")],
        incident_dialogs.Resolution("fixed", "swapped disk"),
    ),
}


@pytest.mark.parametrize("name", INCIDENT_FORMS)
async def test_ctrl_s_saves_every_incident_form(name: str) -> None:
    build, keys, expected = INCIDENT_FORMS[name]
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        results = await open_form(pilot, build())
        await pilot.press(*keys, "ctrl+s")
        await wait_for(pilot, lambda: len(results) == 1, what="the form to save")
    if name == "eta":
        assert results[0] is not None and results[0].eta is not None
    else:
        assert results == [expected]


@pytest.mark.parametrize("name", INCIDENT_FORMS)
async def test_esc_cancels_every_incident_form(name: str) -> None:
    build, keys, _ = INCIDENT_FORMS[name]
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        results = await open_form(pilot, build())
        await pilot.press(*keys, "escape")
        await wait_for(pilot, lambda: results == [None], what="the form to close")


async def test_enter_on_the_incident_title_opens_it() -> None:
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        results = await open_form(pilot, incident_dialogs.OpenIncidentDialog(title="Disk", severity="major"))
        await pilot.press(*typed(" full"), "enter")
        await wait_for(pilot, lambda: len(results) == 1, what="the form to save")
    assert results == [incident_dialogs.NewIncident("Disk full", "major")]


async def test_the_customer_safe_box_shows_its_state_and_enter_on_it_ticks() -> None:
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        dialog = incident_dialogs.NoteDialog("Work note")
        results = await open_form(pilot, dialog)
        box = dialog.query_one(StateCheckbox)
        assert box.mark == "[ ]" and "[ ] customer-safe" in screen_text(pilot.app)
        await pilot.press(*typed("fan replaced"), "tab", "enter")  # Enter on the box ticks it
        await wait_for(pilot, lambda: box.value, what="the box ticked")
        assert results == [] and "[x] customer-safe" in screen_text(pilot.app)
        await pilot.press("space")  # Space unticks
        await wait_for(pilot, lambda: not box.value, what="the box unticked")
        assert "[ ] customer-safe" in screen_text(pilot.app)
        await pilot.press("space", "ctrl+s")  # ticked again, and saved from the box
        await wait_for(pilot, lambda: len(results) == 1, what="the note saved")
    assert results == [incident_dialogs.Note("fan replaced", "progress")]


@pytest.mark.parametrize(
    ("key", "answer"), [("ctrl+s", True), ("y", True), ("enter", True), ("escape", False), ("n", False)]
)
async def test_incident_confirmation(key: str, answer: bool) -> None:
    async with DialogHarness().run_test(size=(100, 30)) as pilot:
        results = await open_form(pilot, incident_dialogs.ConfirmDialog("Open the case", "Open it?"))
        await pilot.press(key)
        await wait_for(pilot, lambda: results == [answer], what="the answer")
