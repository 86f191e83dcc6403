"""``pcso serve``, ``pcso ingest``, ``pcso alerts``, ``pcso maintenance``: alerts in and looked at."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import (
    CliContext,
    cannot_listen,
    emit_json,
    emit_table,
    json_option,
    listening_on,
    pass_cli,
    run,
    run_command,
    stop_on_signals,
    with_domain,
)
from pcso_tui.cli.logs import configure_logging, log_format_option
from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.operations.views import AlertView, IngestResult

# Severity is never shown by colour alone: a glyph and the word.
SEVERITY_GLYPHS = {"critical": "!!", "major": "!", "minor": "*", "warning": "~", "info": "i", "clear": "."}


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9094, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--token",
    envvar="PCSO_RECEIVER_TOKEN",
    metavar="TOKEN",
    help="Require `Authorization: Bearer TOKEN` on alert posts (or set PCSO_RECEIVER_TOKEN).",
)
@log_format_option
@pass_cli
def serve(ctx: CliContext, host: str, port: int, token: str | None, log_format: str) -> None:
    """Receive alerts over HTTP (Alertmanager/Grafana webhooks, generic JSON).

    POST /api/v1/alerts/alertmanager and /api/v1/alerts; GET /healthz. Stops on Ctrl-C.
    """

    from pcso_tui.receiver import serve as run_receiver

    configure_logging(log_format)
    if not token and host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"pcso: warning: listening on {host} without a token; anyone who reaches it may post alerts", err=True
        )

    async def go() -> None:
        domain = await ctx.open_domain()
        stop = stop_on_signals()

        def ready(addresses: list[Any]) -> None:
            for address in addresses:
                click.echo(
                    f"pcso: receiving alerts on http://{listening_on(address)} ({domain.db.describe()})", err=True
                )

        try:
            await run_receiver(
                domain, host=host, port=port, token=token, settings=ctx.config.settings, ready=ready, stop=stop
            )
        finally:
            await domain.close()

    try:
        run(go())
    except OSError as exc:
        cannot_listen(host, port, exc)


def _print_result(result: IngestResult) -> None:
    parts = [
        f"{result.received} received",
        f"{result.new} new",
        f"{result.updated} updated",
        f"{result.reopened} reopened",
        f"{result.closed} closed",
        f"{result.flapping} flapping",
        f"{result.unmapped} unmapped",
    ]
    if result.truncated:
        parts.append(f"{result.truncated} truncated by the sender (left as they were)")
    if result.incident_ids:
        parts.append(f"incidents {', '.join(str(i) for i in result.incident_ids)}")
    click.echo(", ".join(parts))


@click.command("ingest")
@click.argument("file", type=click.File("rb"))
@json_option
@pass_cli
def ingest(ctx: CliContext, file: Any, as_json: bool) -> None:
    """Ingest alerts from FILE (or - for standard input), all or nothing.

    JSON or JSON Lines: Alertmanager webhook messages and/or generic alerts (docs/alerts.md).
    Exits 6, storing nothing, if any alert is invalid.
    """
    from pcso_tui.domain.operations.alert_formats import parse_alerts
    from pcso_tui.domain.operations.alerts import ingest as ingest_batch

    raw = file.read()

    async def action(domain: Domain, actor: Actor) -> IngestResult:
        from pcso_tui.domain.core.roles import Permission, require

        require(actor, Permission.INGEST_ALERTS)
        # A file is one batch however long: the per-request limit is the receiver's.
        return await ingest_batch(domain, actor, parse_alerts(domain.extensions, raw))

    result = with_domain(ctx, action)
    if as_json:
        emit_json(result)
    else:
        _print_result(result)


@click.group("alerts")
def alerts_group() -> None:
    """Alerts: list, acknowledge."""


def _age(at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - at).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _flags(alert: AlertView) -> str:
    return " ".join(
        flag
        for flag, on in (("ack", alert.acknowledged), ("maint", alert.maintenance), ("unmapped", alert.unmapped))
        if on
    )


@alerts_group.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(["open", "closed", "flapping"]), help="Repeatable.")
@click.option(
    "--severity",
    type=click.Choice(["critical", "major", "minor", "warning", "info", "clear"]),
    help="This severity or worse.",
)
@click.option("--search", help="Text in the name, summary, CI, fingerprint or labels.")
@click.option("--ci", help="Only alerts on this CI (or unmapped key).")
@click.option("--unmapped", is_flag=True, default=None, help="Only alerts whose CI is unknown.")
@click.option("--sort", default="-last_change_at", show_default=True, help="Sort key; - for descending.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@json_option
@pass_cli
def alerts_list(
    ctx: CliContext,
    states: tuple[str, ...],
    severity: str | None,
    search: str | None,
    ci: str | None,
    unmapped: bool | None,
    sort: str,
    limit: int,
    as_json: bool,
) -> None:
    """List alerts, most recently changed first."""
    from pcso_tui.domain.operations.alerts import list_alerts

    async def action(domain: Domain, actor: Actor) -> tuple[list[AlertView], datetime]:
        found = await list_alerts(
            domain,
            actor,
            state=list(states) or None,
            severity_at_least=severity,
            search=search,
            ci=ci,
            unmapped=unmapped,
            sort=sort,
            limit=limit,
        )
        return found, domain.clock()

    found, now = with_domain(ctx, action)
    if as_json:
        emit_json(found)
        return
    emit_table(
        ["id", "severity", "state", "name", "ci", "count", "age", "flags", "summary"],
        [
            (
                a.id,
                f"{SEVERITY_GLYPHS.get(a.severity, '?'):2} {a.severity}",
                a.state,
                a.name,
                a.ci_name or a.ci_key or "",
                a.receive_count,
                _age(a.starts_at, now),
                _flags(a),
                one_line(a.summary, 60),
            )
            for a in found
        ],
    )


@alerts_group.command("ack")
@click.argument("alert_id", type=int)
@click.option("--undo", is_flag=True, help="Remove the acknowledgement instead.")
@click.option("--version", "expected_version", type=int, help="Refuse if the alert changed since this version.")
@json_option
@pass_cli
def alerts_ack(ctx: CliContext, alert_id: int, undo: bool, expected_version: int | None, as_json: bool) -> None:
    """Acknowledge an open or flapping alert (--undo to take it back)."""
    from pcso_tui.domain.operations.alerts import acknowledge_alert, unacknowledge_alert

    command = unacknowledge_alert if undo else acknowledge_alert

    run_command(
        ctx,
        command,
        alert_id,
        expected_version,
        as_json=as_json,
        show=lambda alert: f"alert {alert.id} ({one_line(alert.name, 60)}) {'un' if undo else ''}acknowledged",
    )


@click.group("maintenance")
def maintenance_group() -> None:
    """Maintenance windows: alerts on a CI in one are flagged and raise no incident."""


def _parse_time(value: str, option: str) -> datetime:
    from datetime import UTC

    if value.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-11-23T22:00+01:00)", param_hint=option
        ) from None
    # A time without a zone is the local time of this machine.
    return parsed if parsed.tzinfo else parsed.astimezone()


@maintenance_group.command("add")
@click.argument("ci")
@click.option("--from", "starts", default="now", show_default=True, help="Start (ISO 8601; local time if no zone).")
@click.option("--until", "ends", required=True, help="End (ISO 8601; local time if no zone).")
@click.option("--reason", required=True, help="Why, for the people who see the flagged alerts.")
@json_option
@pass_cli
def maintenance_add(ctx: CliContext, ci: str, starts: str, ends: str, reason: str, as_json: bool) -> None:
    """Put CI into maintenance from --from until --until."""
    from pcso_tui.domain.operations.alerts import add_maintenance_window

    starts_at, ends_at = _parse_time(starts, "--from"), _parse_time(ends, "--until")

    async def action(domain: Domain, actor: Actor) -> Any:
        return await add_maintenance_window(domain, actor, ci, starts_at, ends_at, reason)

    window = with_domain(ctx, action)
    if as_json:
        emit_json(window)
    else:
        flagged = f"; {window.alerts_flagged} open alerts flagged" if window.alerts_flagged else ""
        click.echo(
            f"maintenance {window.id} on {one_line(window.ci_name)} "
            f"from {window.starts_at:%Y-%m-%d %H:%M} until {window.ends_at:%Y-%m-%d %H:%M} UTC{flagged}"
        )


@maintenance_group.command("list")
@click.option("--all", "include_past", is_flag=True, help="Include windows that have ended.")
@json_option
@pass_cli
def maintenance_list(ctx: CliContext, include_past: bool, as_json: bool) -> None:
    """Maintenance windows that have not ended yet (times in UTC)."""
    from pcso_tui.domain.operations.alerts import list_maintenance_windows

    run_command(
        ctx,
        list_maintenance_windows,
        include_past=include_past,
        as_json=as_json,
        show=lambda found: emit_table(
            ["id", "ci", "from", "until", "by", "reason"],
            [
                (
                    w.id,
                    w.ci_name,
                    f"{w.starts_at:%Y-%m-%d %H:%M}",
                    f"{w.ends_at:%Y-%m-%d %H:%M}",
                    w.created_by,
                    w.reason,
                )
                for w in found
            ],
        ),
    )


commands = (serve, ingest, alerts_group, maintenance_group)
