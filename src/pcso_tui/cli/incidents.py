"""``pcso incidents``, ``pcso incident``, ``pcso healthcheck`` and ``pcso heartbeat``."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import (
    CliContext,
    emit_json,
    emit_table,
    json_option,
    pass_cli,
    run,
    run_command,
    stop_on_signals,
    with_domain,
)
from pcso_tui.cli.logs import configure_logging, log_format_option
from pcso_tui.domain.core.text import one_line, printable

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.operations.views import IncidentDetail, IncidentView

SEVERITIES = ["critical", "major", "minor", "warning", "info"]
STATES = ["new", "in_progress", "on_hold", "resolved", "closed", "canceled"]
_RELATIVE = re.compile(r"^\+(\d+)\s*([mhd])$")


class IncidentNumber(click.ParamType):
    """``INC0000042`` or ``42``."""

    name = "INCIDENT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        from pcso_tui.domain.core.views import parse_number

        if isinstance(value, int):
            return value
        number = parse_number(str(value), "INC")
        if number is None:
            self.fail(f"{value!r} is not an incident number (INC0000042 or 42)", param, ctx)
        return number


INCIDENT = IncidentNumber()
expect_version = click.option(
    "--expect-version",
    "expected_version",
    type=int,
    metavar="N",
    help="Refuse if the incident is no longer at this version (someone changed it meanwhile).",
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _age(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def _print_incident(view: IncidentView, verb: str) -> None:
    click.echo(f"{view.number} {verb}: {view.state}, {view.severity} — {one_line(view.title, 70)}")


def _print_detail(detail: IncidentDetail) -> None:
    i = detail.incident
    opened_by = i.opened_by or f"rule {i.opened_by_rule}"
    click.echo(f"{i.number}  {one_line(i.title)}")
    click.echo(f"  state {i.state} · severity {i.severity} · version {i.version}")
    click.echo(f"  opened {_when(i.opened_at)} UTC by {one_line(opened_by)} · age {_age(i.age_seconds)}")
    if i.eta:
        click.echo(f"  ETA {_when(i.eta)} UTC")
    if detail.resolution_code:
        click.echo(f"  resolved {_when(detail.resolved_at)} UTC ({one_line(detail.resolution_code)})")
    if detail.root_cause:
        click.echo(f"  probable root cause: {one_line(detail.root_cause.ci_name)}")
        click.echo(f"    {one_line(detail.root_cause.explanation)}")
    else:
        click.echo(f"  probable root cause: none — {one_line(detail.root_cause_note)}")
    if detail.cis:
        click.echo(f"\nCIs ({len(detail.cis)})")
        emit_table(
            ["ci", "kind", "hops to root"],
            [(c.name, c.kind, "" if c.hops_to_root is None else c.hops_to_root) for c in detail.cis],
        )
    click.echo(f"\nAlerts ({i.alert_count}, {i.firing_count} firing)")
    if detail.alerts:
        emit_table(
            ["id", "severity", "state", "ci", "name", "changed"],
            [
                (
                    a.id,
                    a.severity,
                    a.state,
                    a.ci_name or f"{a.ci_key or '-'} (unmapped)",
                    a.name,
                    _when(a.last_change_at),
                )
                for a in detail.alerts
            ],
        )
    click.echo(f"\nJournal ({len(detail.journal)})")
    for entry in detail.journal:
        label = "work note (internal)" if entry.kind == "work_note" else entry.kind
        click.echo(f"  {_when(entry.created_at)} {one_line(entry.author_name)} · {label}")
        for line in printable(entry.body, multiline=True).splitlines() or [""]:
            click.echo(f"    {line}")


# --- pcso incidents ----------------------------------------------------------------------


@click.group("incidents")
def incidents_group() -> None:
    """List and show incidents."""


@incidents_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Resolved, closed and canceled ones too.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@json_option
@pass_cli
def incidents_list(ctx: CliContext, show_all: bool, limit: int, offset: int, as_json: bool) -> None:
    """Incidents, newest first (active ones unless --all)."""
    from pcso_tui.domain.operations.incidents import list_incidents

    run_command(
        ctx,
        list_incidents,
        active_only=not show_all,
        limit=limit,
        offset=offset,
        as_json=as_json,
        show=lambda found: emit_table(
            ["number", "severity", "state", "root ci", "alerts", "cis", "age", "eta", "title"],
            [
                (
                    v.number,
                    v.severity,
                    v.state,
                    v.root_ci_name or "",
                    f"{v.firing_count}/{v.alert_count}",
                    v.ci_count,
                    _age(v.age_seconds),
                    _when(v.eta),
                    v.title,
                )
                for v in found
            ],
        ),
    )


@incidents_group.command("show")
@click.argument("incident", type=INCIDENT)
@json_option
@pass_cli
def incidents_show(ctx: CliContext, incident: int, as_json: bool) -> None:
    """One incident: alerts, CIs, journal and probable root cause."""
    from pcso_tui.domain.operations.incidents import get_incident

    run_command(ctx, get_incident, incident, as_json=as_json, show=_print_detail)


# --- pcso incident -----------------------------------------------------------------------


@click.group("incident")
def incident_group() -> None:
    """Open and work an incident: notes, state, ETA, resolution."""


@incident_group.command("open")
@click.option("--title", default="", help="What is broken (default: from the alerts).")
@click.option("--severity", type=click.Choice(SEVERITIES), help="Default: the worst of the alerts.")
@click.option("--ci", "ci_names", multiple=True, metavar="NAME", help="An affected CI (repeatable).")
@click.option("--alert", "alert_ids", multiple=True, type=int, metavar="ID", help="An alert to take in (repeatable).")
@json_option
@pass_cli
def incident_open(
    ctx: CliContext,
    title: str,
    severity: str | None,
    ci_names: tuple[str, ...],
    alert_ids: tuple[int, ...],
    as_json: bool,
) -> None:
    """Open an incident on CIs and/or alerts."""
    from pcso_tui.domain.operations.incidents import open_incident

    run_command(
        ctx,
        open_incident,
        title=title,
        severity=severity,
        ci_names=ci_names,
        alert_ids=alert_ids,
        as_json=as_json,
        show=lambda view: _print_incident(view, "opened"),
    )


@incident_group.command("note")
@click.argument("incident", type=INCIDENT)
@click.argument("body")
@click.option("--progress", is_flag=True, help="A customer-safe progress update instead of an internal work note.")
@expect_version
@json_option
@pass_cli
def incident_note(
    ctx: CliContext, incident: int, body: str, progress: bool, expected_version: int | None, as_json: bool
) -> None:
    """Add a work note (internal) or a progress update; BODY '-' reads standard input."""
    from pcso_tui.domain.operations.incidents import add_incident_note

    text = sys.stdin.read() if body == "-" else body

    run_command(
        ctx,
        add_incident_note,
        incident,
        text,
        kind="progress" if progress else "work_note",
        expected_version=expected_version,
        as_json=as_json,
        show=lambda _: f"{'progress update' if progress else 'work note'} added to INC{incident:07d}",
    )


@incident_group.command("state")
@click.argument("incident", type=INCIDENT)
@click.argument("state", type=click.Choice(STATES))
@click.option("--note", default="", help="Why (goes on the journal with the change).")
@expect_version
@json_option
@pass_cli
def incident_state(
    ctx: CliContext, incident: int, state: str, note: str, expected_version: int | None, as_json: bool
) -> None:
    """Move an incident to another state (new, in_progress, on_hold, canceled …)."""
    from pcso_tui.domain.operations.incidents import set_incident_state

    run_command(
        ctx,
        set_incident_state,
        incident,
        state,
        expected_version=expected_version,
        note=note,
        as_json=as_json,
        show=lambda view: _print_incident(view, "is now"),
    )


class When(click.ParamType):
    """``none``, ``+90m``/``+2h``/``+1d`` (a timedelta), or an ISO time with a zone."""

    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.lower() in ("none", "clear"):
            return None
        relative = _RELATIVE.match(text)
        if relative:
            unit = {"m": "minutes", "h": "hours", "d": "days"}[relative.group(2)]
            return timedelta(**{unit: int(relative.group(1))})
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{text!r} is not a time: give none, +90m, +2h, +1d or an ISO time such as 2026-11-23T11:00+00:00",
                param,
                ctx,
            )


@incident_group.command("eta")
@click.argument("incident", type=INCIDENT)
@click.argument("when", type=When())
@expect_version
@json_option
@pass_cli
def incident_eta(
    ctx: CliContext, incident: int, when: datetime | timedelta | None, expected_version: int | None, as_json: bool
) -> None:
    """Set when service is expected back: +2h, an ISO time with a zone, or none."""
    from pcso_tui.domain.operations.incidents import set_incident_eta

    async def action(domain: Domain, actor: Actor) -> Any:
        eta = domain.clock() + when if isinstance(when, timedelta) else when
        return await set_incident_eta(domain, actor, incident, eta, expected_version=expected_version)

    view = with_domain(ctx, action)
    if as_json:
        emit_json(view)
    else:
        click.echo(f"{view.number} ETA: {_when(view.eta) + ' UTC' if view.eta else 'none'}")


@incident_group.command("resolve")
@click.argument("incident", type=INCIDENT)
@click.option("--code", required=True, help="Resolution code, e.g. fixed, workaround.")
@click.option("--notes", required=True, help="What was done.")
@expect_version
@json_option
@pass_cli
def incident_resolve(
    ctx: CliContext, incident: int, code: str, notes: str, expected_version: int | None, as_json: bool
) -> None:
    """Resolve an incident with a code and notes."""
    from pcso_tui.domain.operations.incidents import resolve_incident

    run_command(
        ctx,
        resolve_incident,
        incident,
        code,
        notes,
        expected_version=expected_version,
        as_json=as_json,
        show=lambda view: _print_incident(view, "resolved"),
    )


@incident_group.command("close")
@click.argument("incident", type=INCIDENT)
@click.option("--note", default="")
@expect_version
@json_option
@pass_cli
def incident_close(ctx: CliContext, incident: int, note: str, expected_version: int | None, as_json: bool) -> None:
    """Close a resolved incident."""
    from pcso_tui.domain.operations.incidents import close_incident

    run_command(
        ctx,
        close_incident,
        incident,
        expected_version=expected_version,
        note=note,
        as_json=as_json,
        show=lambda view: _print_incident(view, "closed"),
    )


# --- pcso healthcheck / heartbeat --------------------------------------------------------


@click.group("healthcheck")
def healthcheck_group() -> None:
    """The built-in health checks ([[healthchecks.http]], .tcp, .heartbeat in the config)."""


@healthcheck_group.command("run")
@click.option("--once", is_flag=True, help="Probe every check once, send what changed, and exit.")
@click.option(
    "--forget",
    "forget",
    multiple=True,
    metavar="NAME",
    help="Drop what check NAME learned as normal, and learn it afresh (a lasting change accepted). Repeatable.",
)
@json_option
@log_format_option
@pass_cli
def healthcheck_run(ctx: CliContext, once: bool, forget: tuple[str, ...], as_json: bool, log_format: str) -> None:
    """Run the checks and feed their alerts to alert ingestion (until interrupted)."""

    configure_logging(log_format)

    async def go() -> list[dict[str, Any]]:

        from pcso_tui.domain.core.errors import InvalidInput
        from pcso_tui.domain.core.roles import Permission, require
        from pcso_tui.domain.operations.healthchecks import HEALTHCHECK_ACTOR, HealthCheckRunner

        domain = await ctx.open_domain()
        try:
            actor = await ctx.sign_in(domain)
            require(actor, Permission.INGEST_ALERTS)
            checks = domain.settings.healthchecks
            if not (checks.http or checks.tcp or checks.heartbeat):
                where = ctx.config.path or "the config file"
                raise InvalidInput(
                    f"no health checks configured: add [[healthchecks.http]] (or .tcp, .heartbeat) to {where}"
                )
            try:
                from pcso_tui.domain.operations import alerts  # type: ignore[attr-defined]
            except ImportError:
                raise InvalidInput("alert ingestion is not part of this build: nowhere to send health alerts") from None

            async def sink(batch: list[dict[str, Any]]) -> None:
                await alerts.ingest_payload(domain, HEALTHCHECK_ACTOR, batch, format="generic")

            runner = HealthCheckRunner(domain, sink, actor=HEALTHCHECK_ACTOR, forget=forget)
            if once:
                async with runner:
                    return await runner.run_once()
            stop = stop_on_signals()
            n = len(checks.http) + len(checks.tcp) + len(checks.heartbeat)
            click.echo(f"running {n} health check{'s' if n != 1 else ''}; Ctrl-C to stop", err=True)
            await runner.run(stop)
            return []
        finally:
            await domain.close()

    sent = run(go())
    if not once:
        return
    if as_json:
        emit_json(sent)
    elif sent:
        emit_table(
            ["check", "status", "severity", "summary"],
            [(a["labels"]["check"], a["status"], a["severity"], a["summary"]) for a in sent],
        )
    else:
        click.echo("no change")


@click.command("heartbeat")
@click.argument("name")
@json_option
@pass_cli
def heartbeat(ctx: CliContext, name: str, as_json: bool) -> None:
    """Report in for a heartbeat check (a cron job's last line: `pcso heartbeat nightly-backup`)."""
    from pcso_tui.domain.operations.healthchecks import record_heartbeat

    async def action(domain: Domain, actor: Actor) -> Any:
        return await record_heartbeat(domain, name, actor=actor)

    beat = with_domain(ctx, action)
    if as_json:
        emit_json(beat)
    else:
        click.echo(f"{one_line(beat.name)}: report {beat.reports} at {_when(beat.reported_at)} UTC")


commands = (incidents_group, incident_group, healthcheck_group, heartbeat)
