"""``pcso cases`` and ``pcso case``: cases and major cases, for scripts and chat-ops.

Every command acts as the signed-in user through the same domain commands the screens use,
takes ``--json``, and exits with the refusal's code (see ``pcso --help``). A body given as
``-`` is read from standard input. ``approve`` shows what it will create and asks first; without
a terminal it refuses unless ``--yes``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import CliContext, emit_json, emit_table, json_option, pass_cli, run_command, with_domain
from pcso_tui.domain.core.text import one_line, printable
from pcso_tui.domain.core.views import parse_number

if TYPE_CHECKING:
    from pcso_tui.domain.casework.views import CaseDetail, CaseView
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain

EXIT_USAGE = 2
EXIT_DECLINED = 1


class _Number(click.ParamType):
    """``CS0000042`` or ``42`` → 42 (likewise ``INC…`` for incidents)."""

    def __init__(self, prefix: str, what: str) -> None:
        self.prefix = prefix
        self.name = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        number = parse_number(str(value), self.prefix)
        if number is None:
            self.fail(
                f"{one_line(str(value), 40)!r} is not a {self.name} number (like {self.prefix}0000042)", param, ctx
            )
        return number


CASE = _Number("CS", "case")
INCIDENT = _Number("INC", "incident")


def _body(text: str) -> str:
    """The text itself, or standard input for ``-``."""
    return sys.stdin.read() if text == "-" else text


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _age(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86_400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86_400}d{seconds % 86_400 // 3600}h"


def _case_line(case: CaseView) -> str:
    major = "" if case.major_case_state == "none" else f", major case {case.major_case_state}"
    parent = f", child of {case.parent_number}" if case.parent_number else ""
    return f"{case.number} {case.kind} {case.state}{major}{parent}: {one_line(case.short_description, 80)}"


# --- pcso cases -------------------------------------------------------------------------------


@click.group("cases")
def group() -> None:
    """Case queues."""


@group.command("list")
@click.option("--kind", type=click.Choice(["reactive", "proactive", "major", "child"]))
@click.option("--state", type=click.Choice(["new", "open", "awaiting_info", "resolved", "closed", "canceled"]))
@click.option("--major-state", type=click.Choice(["none", "proposed", "accepted", "rejected", "cancelled"]))
@click.option("--account", metavar="NUMBER", help="Only this account's cases.")
@click.option("--parent", type=CASE, metavar="CASE", help="Only the children of this major case.")
@click.option("--incident", type=INCIDENT, metavar="INC", help="Only cases on this incident.")
@click.option("--active/--inactive", default=None, help="Only new/open/awaiting_info cases, or only the others.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@json_option
@pass_cli
def cases_list(
    ctx: CliContext,
    kind: str | None,
    state: str | None,
    major_state: str | None,
    account: str | None,
    parent: int | None,
    incident: int | None,
    active: bool | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Cases, most urgent first (customers see their own account's only)."""
    from pcso_tui.domain.casework.cases import list_cases

    run_command(
        ctx,
        list_cases,
        kind=kind,
        state=state,
        major_case_state=major_state,
        account=account,
        parent_id=parent,
        incident_id=incident,
        active=active,
        limit=limit,
        offset=offset,
        as_json=as_json,
        show=lambda found: emit_table(
            ["number", "kind", "state", "major", "prio", "accounts", "incident", "age", "parent", "description"],
            [
                (
                    c.number,
                    c.kind,
                    c.state,
                    "" if c.major_case_state == "none" else c.major_case_state,
                    f"{c.priority} {c.priority_name}",
                    c.account_number or c.affected_accounts,
                    f"{c.incident_number} {c.incident_state}" if c.incident_number else "",
                    _age(c.age_seconds),
                    c.parent_number or "",
                    c.short_description,
                )
                for c in found
            ],
        ),
    )


# --- pcso case ------------------------------------------------------------------------------


@click.group("case")
def case_group() -> None:
    """One case: show, open, note, propose, approve, reject, statement, resolve, close …"""


def _print_detail(d: CaseDetail) -> None:
    c = d.case
    out = click.echo
    out(_case_line(c))
    out(f"  priority {c.priority} {c.priority_name} · opened {c.opened_at:%Y-%m-%d %H:%M} · version {c.version}")
    if c.account_number:
        contact = f", contact {one_line(d.contact_name)} ({d.contact_channel})" if d.contact_name else ""
        out(f"  account {one_line(c.account_number)} {one_line(c.account_name)}{contact}")
    if d.incident:
        out(
            f"  incident {d.incident.number} {d.incident.state} {d.incident.severity}: {one_line(d.incident.title, 70)}"
        )
    if d.alert:
        out(f"  alert {d.alert.id} {d.alert.severity} {d.alert.state}: {one_line(d.alert.name, 70)}")
    if d.description:
        for line in printable(d.description, multiline=True).splitlines():
            out(f"  | {line}")
    if d.propose_reason:
        out(f"  proposed ({d.proposed_by or 'workflow rule'}): {one_line(d.propose_reason, 90)}")
        out(f"  business impact: {one_line(d.business_impact, 90)}")
    if d.reject_reason:
        out(f"  rejected by {d.decided_by}: {one_line(d.reject_reason, 90)}")
    if d.resolution_code:
        out(f"  resolution {one_line(d.resolution_code)}: {one_line(d.resolution_notes, 90)}")
    if d.accounts_total:
        shown = ", ".join(one_line(a.number) for a in d.accounts[:10])
        more = f" … and {d.accounts_total - 10} more" if d.accounts_total > 10 else ""
        out(f"  affected accounts ({d.accounts_total}): {shown}{more}")
    if d.items_total:
        out(f"  affected install base items: {d.items_total}")
    if d.children_total:
        by_state = ", ".join(f"{n} {s}" for s, n in sorted(d.children_by_state.items()))
        out(f"  child cases ({d.children_total}): {by_state}")
    if d.notices_by_state:
        out("  notices: " + ", ".join(f"{n} {s}" for s, n in sorted(d.notices_by_state.items())))
    if d.journal:
        out("  journal:")
        for entry in d.journal:
            out(f"    {entry.at:%Y-%m-%d %H:%M} {one_line(entry.author_name)} [{entry.label}]")
            for text in printable(entry.body, multiline=True).splitlines():
                out(f"      {text}")


@case_group.command("show")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.option("--accounts-limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--accounts-offset", type=click.IntRange(0), default=0)
@json_option
@pass_cli
def case_show(ctx: CliContext, case_id: int, accounts_limit: int, accounts_offset: int, as_json: bool) -> None:
    """A case with its accounts, incident, alert, journal, children and notices."""
    from pcso_tui.domain.casework.cases import get_case

    run_command(
        ctx,
        get_case,
        case_id,
        accounts_limit=accounts_limit,
        accounts_offset=accounts_offset,
        as_json=as_json,
        show=_print_detail,
    )


@case_group.command("open-proactive")
@click.argument("incident_id", type=INCIDENT, metavar="INC")
@click.option("--alert", "alert_id", type=int, help="The alert to carry (default: the incident's worst).")
@json_option
@pass_cli
def case_open_proactive(ctx: CliContext, incident_id: int, alert_id: int | None, as_json: bool) -> None:
    """Open the proactive case of an incident (operators)."""
    from pcso_tui.domain.casework.cases import open_proactive_case

    run_command(
        ctx,
        open_proactive_case,
        incident_id,
        alert_id=alert_id,
        as_json=as_json,
        show=lambda view: f"opened {_case_line(view)} ({view.affected_accounts} accounts affected)",
    )


@case_group.command("open")
@click.option("--account", "account_number", required=True, metavar="NUMBER")
@click.option("--contact", "contact_number", metavar="NUMBER", help="Default: the account's primary contact.")
@click.option("--short", "short_description", required=True, help="One line: what the customer reports.")
@click.option("--description", default="", help="More detail ('-' reads standard input).")
@click.option("--product", "product_number", metavar="NUMBER")
@click.option("--channel", type=click.Choice(["phone", "email", "portal", "web"]), default="phone", show_default=True)
@json_option
@pass_cli
def case_open(
    ctx: CliContext,
    account_number: str,
    contact_number: str | None,
    short_description: str,
    description: str,
    product_number: str | None,
    channel: str,
    as_json: bool,
) -> None:
    """Log a customer's call (agents)."""
    from pcso_tui.domain.casework.cases import open_reactive_case

    text = _body(description)

    run_command(
        ctx,
        open_reactive_case,
        account_number=account_number,
        contact_number=contact_number,
        short_description=short_description,
        description=text,
        product_number=product_number,
        channel=channel,
        as_json=as_json,
        show=lambda view: f"opened {_case_line(view)}",
    )


@case_group.command("note")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.argument("body")
@click.option(
    "--customer-visible/--work-note",
    "visible",
    default=None,
    help="A comment the customer reads, or an internal work note (staff default: work note).",
)
@json_option
@pass_cli
def case_note(ctx: CliContext, case_id: int, body: str, visible: bool | None, as_json: bool) -> None:
    """Add a work note or a customer-visible comment ('-' reads standard input)."""
    from pcso_tui.domain.casework.cases import add_case_note
    from pcso_tui.domain.core.roles import Role

    text = _body(body)

    async def action(domain: Domain, actor: Actor) -> Any:
        customer_visible = (actor.role is Role.CUSTOMER) if visible is None else visible
        entry = await add_case_note(domain, actor, case_id, text, customer_visible=customer_visible)
        return {"entry_id": entry, "case_id": case_id, "customer_visible": customer_visible}

    result = with_domain(ctx, action)
    if as_json:
        emit_json(result)
    else:
        what = "a customer-visible comment" if result["customer_visible"] else "an internal work note"
        click.echo(f"added {what} to CS{case_id:07d}")


@case_group.command("state")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.argument("state", type=click.Choice(["new", "open", "awaiting_info", "resolved", "closed", "canceled"]))
@click.option("--expected-version", type=int, help="Refuse if the case changed since this version.")
@json_option
@pass_cli
def case_state(ctx: CliContext, case_id: int, state: str, expected_version: int | None, as_json: bool) -> None:
    """Move a case to another state."""
    from pcso_tui.domain.casework.cases import set_case_state

    run_command(
        ctx, set_case_state, case_id, state, expected_version=expected_version, as_json=as_json, show=_case_line
    )


@case_group.command("priority")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.argument("priority", type=click.IntRange(1, 4))
@click.option("--expected-version", type=int, help="Refuse if the case changed since this version.")
@json_option
@pass_cli
def case_priority(ctx: CliContext, case_id: int, priority: int, expected_version: int | None, as_json: bool) -> None:
    """Set a case's priority, 1 (critical) to 4 (low); a major case's open children follow."""
    from pcso_tui.domain.casework.cases import set_case_priority

    run_command(
        ctx,
        set_case_priority,
        case_id,
        priority,
        expected_version=expected_version,
        as_json=as_json,
        show=lambda view: f"{_case_line(view)} (priority {view.priority} {view.priority_name})",
    )


@case_group.command("wording")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.option("--title", help="What customers are told the case is (one line, at most 200 characters).")
@click.option("--summary", help="A few customer-facing sentences about it ('-' reads standard input).")
@click.option("--expected-version", type=int, help="Refuse if the case changed since this version.")
@json_option
@pass_cli
def case_wording(
    ctx: CliContext, case_id: int, title: str | None, summary: str | None, expected_version: int | None, as_json: bool
) -> None:
    """Word what customers are told about a case: its customer-facing title and summary.

    Notices, the portal and the status page show these words, never the case's internal short
    description. Without --title or --summary, shows the current wording."""
    from pcso_tui.domain.casework.wording import case_wording as current
    from pcso_tui.domain.casework.wording import set_case_wording

    def show(w: Any) -> str:
        return f"{w.number} (version {w.version}) customer-facing title: {printable(w.title)}\n" + (
            f"summary: {printable(w.summary, multiline=True)}" if w.summary else "summary: (none)"
        )

    if title is None and summary is None:
        run_command(ctx, current, case_id, as_json=as_json, show=show)
        return
    run_command(
        ctx,
        set_case_wording,
        case_id,
        title=title,
        summary=_body(summary) if summary is not None else None,
        expected_version=expected_version,
        as_json=as_json,
        show=show,
    )


@case_group.command("propose")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.option("--reason", required=True, help="Why this is a major case.")
@click.option("--impact", "business_impact", required=True, help="The business impact.")
@json_option
@pass_cli
def case_propose(ctx: CliContext, case_id: int, reason: str, business_impact: str, as_json: bool) -> None:
    """Propose a case as a major case (agents and managers)."""
    from pcso_tui.domain.casework.major_cases import propose_major_case

    run_command(
        ctx,
        propose_major_case,
        case_id,
        reason=reason,
        business_impact=business_impact,
        as_json=as_json,
        show=lambda view: f"proposed {_case_line(view)}",
    )


@case_group.command("candidate")
@click.option("--short", "short_description", required=True, help="One line: what is broken.")
@click.option("--reason", required=True)
@click.option("--impact", "business_impact", required=True)
@click.option("--description", default="")
@click.option("--priority", type=click.IntRange(1, 4), default=2, show_default=True)
@click.option("--incident", "incident_id", type=INCIDENT, metavar="INC")
@click.option("--account", "accounts", multiple=True, metavar="NUMBER", help="An affected account (repeatable).")
@json_option
@pass_cli
def case_candidate(
    ctx: CliContext,
    short_description: str,
    reason: str,
    business_impact: str,
    description: str,
    priority: int,
    incident_id: int | None,
    accounts: tuple[str, ...],
    as_json: bool,
) -> None:
    """Open a major case candidate directly; approving it makes it the major case."""
    from pcso_tui.domain.casework.major_cases import open_major_candidate

    run_command(
        ctx,
        open_major_candidate,
        short_description=short_description,
        reason=reason,
        business_impact=business_impact,
        description=description,
        priority=priority,
        incident_id=incident_id,
        account_numbers=accounts,
        as_json=as_json,
        show=lambda view: f"proposed {_case_line(view)} ({view.affected_accounts} accounts)",
    )


def _print_preview(p: Any, *, err: bool) -> None:
    what = "a new major case, with this case as its child" if p.creates_new_major else "this case as the major case"
    lines = [
        f"Approving {p.number} ({one_line(p.short_description, 70)}) creates {what}:",
        f"  {p.children} child cases for {p.accounts} affected accounts"
        + (f" ({p.accounts_without_contact} without a contact to notify)" if p.accounts_without_contact else ""),
        f"  {p.notices} notices queued to {p.recipients} of each account,"
        f" {p.notices_skipped} skipped (opted out or internal)",
        f"  customers are told: {one_line(p.public_title, 80)}",
        f"    {one_line(p.public_summary, 100)}",
        f"  reason: {one_line(p.propose_reason, 80)}",
        f"  business impact: {one_line(p.business_impact, 80)}",
    ]
    for line in lines:
        click.echo(line, err=err)


@case_group.command("approve")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.option("--yes", "-y", is_flag=True, help="Approve without asking (needed without a terminal).")
@click.option("--expected-version", type=int, help="Refuse if the case changed since this version.")
@json_option
@pass_cli
def case_approve(ctx: CliContext, case_id: int, yes: bool, expected_version: int | None, as_json: bool) -> None:
    """Approve a proposed major case: children, notices and events in one transaction."""
    from pcso_tui.domain.casework.major_cases import approve_major_case, preview_approval

    if not yes:

        async def preview(domain: Domain, actor: Actor) -> Any:
            return await preview_approval(domain, actor, case_id)

        _print_preview(with_domain(ctx, preview), err=as_json)
        if not _stdin_is_tty():
            click.echo("pcso: not a terminal, so nothing was approved: pass --yes to approve", err=True)
            sys.exit(EXIT_USAGE)
        if not click.confirm("Approve?", default=False, err=True):
            click.echo("not approved", err=True)
            sys.exit(EXIT_DECLINED)

    run_command(
        ctx,
        approve_major_case,
        case_id,
        expected_version=expected_version,
        as_json=as_json,
        show=lambda r: (
            f"approved {r.candidate_number}: major case {r.major_case_number}, {r.children_created} child cases, "
            f"{r.notices_queued} notices queued ({r.notices_skipped} skipped)"
            + (f"; {r.outage_number} on the status page" if r.outage_number else "")
        ),
    )


@case_group.command("reject")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.option("--reason", required=True)
@click.option("--expected-version", type=int, help="Refuse if the case changed since this version.")
@json_option
@pass_cli
def case_reject(ctx: CliContext, case_id: int, reason: str, expected_version: int | None, as_json: bool) -> None:
    """Reject a proposed major case; it goes back to being an ordinary case."""
    from pcso_tui.domain.casework.major_cases import reject_major_case

    run_command(
        ctx,
        reject_major_case,
        case_id,
        reason=reason,
        expected_version=expected_version,
        as_json=as_json,
        show=lambda view: f"rejected {_case_line(view)}",
    )


@case_group.command("statement")
@click.argument("case_id", type=CASE, metavar="MAJOR")
@click.argument("body")
@json_option
@pass_cli
def case_statement(ctx: CliContext, case_id: int, body: str, as_json: bool) -> None:
    """Post a customer-facing statement to every open child and its contact ('-' reads stdin)."""
    from pcso_tui.domain.casework.major_cases import post_statement

    text = _body(body)

    run_command(
        ctx,
        post_statement,
        case_id,
        text,
        as_json=as_json,
        show=lambda r: (
            f"statement {r.statement_id} on {r.major_case_number}: {r.children_reached} open child cases, "
            f"{r.notices_queued} notices queued ({r.notices_skipped} skipped)"
        ),
    )


def _cascade_line(r: Any) -> str:
    told = f", {r.notices_queued} notices queued ({r.notices_skipped} skipped)" if r.state == "resolved" else ""
    if r.outages_ended:
        told += f"; {r.outages_ended} outage{'s' if r.outages_ended > 1 else ''} ended on the status page"
    return (
        f"{r.major_case_number} {r.state}: {r.children_changed} child cases {r.state} with it, "
        f"{r.children_skipped} left as they were{told}"
    )


@case_group.command("resolve")
@click.argument("case_id", type=CASE, metavar="MAJOR")
@click.option("--code", required=True, help="Resolution code.")
@click.option("--notes", required=True, help="Customer-facing resolution notes ('-' reads stdin).")
@click.option("--expected-version", type=int, help="Refuse if the case changed since this version.")
@json_option
@pass_cli
def case_resolve(
    ctx: CliContext, case_id: int, code: str, notes: str, expected_version: int | None, as_json: bool
) -> None:
    """Resolve a major case and its open children; their contacts are told."""
    from pcso_tui.domain.casework.major_cases import resolve_major_case

    text = _body(notes)

    run_command(
        ctx,
        resolve_major_case,
        case_id,
        code=code,
        notes=text,
        expected_version=expected_version,
        as_json=as_json,
        show=_cascade_line,
    )


@case_group.command("close")
@click.argument("case_id", type=CASE, metavar="MAJOR")
@click.option("--expected-version", type=int, help="Refuse if the case changed since this version.")
@json_option
@pass_cli
def case_close(ctx: CliContext, case_id: int, expected_version: int | None, as_json: bool) -> None:
    """Close a resolved major case and its new/open/awaiting_info children."""
    from pcso_tui.domain.casework.major_cases import close_major_case

    run_command(ctx, close_major_case, case_id, expected_version=expected_version, as_json=as_json, show=_cascade_line)


@case_group.command("auto-close")
@json_option
@pass_cli
def case_auto_close(ctx: CliContext, as_json: bool) -> None:
    """Close the cases resolved [casework] auto_close_days ago or earlier (the worker does it too)."""
    from pcso_tui.domain.casework.cases import close_resolved_cases

    run_command(
        ctx,
        close_resolved_cases,
        as_json=as_json,
        show=lambda r: (
            "auto-close is off ([casework] auto_close_days = 0)"
            if r.resolved_before is None
            else f"closed {r.closed} cases resolved before {r.resolved_before:%Y-%m-%d %H:%M} UTC,"
            f" {r.notices_queued} notices queued"
        ),
    )


@case_group.command("attach")
@click.argument("major_id", type=CASE, metavar="MAJOR")
@click.argument("case_id", type=CASE, metavar="CASE")
@json_option
@pass_cli
def case_attach(ctx: CliContext, major_id: int, case_id: int, as_json: bool) -> None:
    """Make a reactive or proactive case a child of a major case."""
    from pcso_tui.domain.casework.major_cases import attach_case

    run_command(
        ctx,
        attach_case,
        major_id,
        case_id,
        as_json=as_json,
        show=lambda view: f"attached {_case_line(view)}" + (" (deflected)" if view.deflected else ""),
    )


@case_group.command("add-accounts")
@click.argument("major_id", type=CASE, metavar="MAJOR")
@click.argument("accounts", nargs=-1, required=True, metavar="NUMBER...")
@click.option(
    "--source", type=click.Choice(["impact", "reported", "likely", "manual"]), default="manual", show_default=True
)
@json_option
@pass_cli
def case_add_accounts(ctx: CliContext, major_id: int, accounts: tuple[str, ...], source: str, as_json: bool) -> None:
    """Add affected accounts; new ones get a child case and a notice ('-' reads numbers from stdin)."""
    from pcso_tui.domain.casework.major_cases import add_affected_accounts

    numbers = [n for a in accounts for n in (sys.stdin.read().split() if a == "-" else [a])]

    run_command(
        ctx,
        add_affected_accounts,
        major_id,
        numbers,
        source=source,
        as_json=as_json,
        show=lambda r: (
            f"{r.number}: {r.accounts_added} accounts added ({r.accounts_already} already affected), "
            f"{r.children_created} child cases, {r.notices_queued} notices queued ({r.notices_skipped} skipped)"
        ),
    )


# What ``pcso`` registers from this module.
commands = (group, case_group)
