"""``pcso worker``, ``pcso notices`` and ``pcso status-page``: reaching customers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import (
    CliContext,
    emit_table,
    json_option,
    pass_cli,
    run,
    run_command,
    stop_on_signals,
    with_domain,
)
from pcso_tui.cli.logs import configure_logging, log_format_option
from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.domain.communications.views import DeliveryReport
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain


def case_id_of(value: str | None) -> int | None:
    """``CS0000042`` or ``42`` → 42."""
    if value is None:
        return None
    from pcso_tui.domain.core.views import parse_number

    number = parse_number(value, "CS")
    if number is None:
        raise click.BadParameter(f"{value!r} is not a case number (CS0000042)")
    return number


def _report_line(report: DeliveryReport) -> str:
    return (
        f"sent {report.sent}, retrying {report.retrying}, dead {report.dead}, skipped {report.skipped}"
        f" (of {report.claimed} claimed)"
    )


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron).")
@click.option(
    "--status-page",
    "status_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the static status page in this directory (default: [delivery] status_page_dir).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every batch.")
@log_format_option
@pass_cli
def worker(ctx: CliContext, once: bool, status_dir: Path | None, verbose: bool, log_format: str) -> None:
    """Deliver queued notices through their channels until stopped.

    SIGTERM or Ctrl-C stops it gracefully: the batch in flight is sent and recorded first.
    Between batches it closes resolved cases ([casework] auto_close_days) every few minutes.
    """
    from pcso_tui.domain.casework.cases import AUTO_CLOSE_EVERY, close_resolved_cases
    from pcso_tui.domain.communications.delivery import WORKER, Chore, DeliveryWorker, with_status_page_dir

    configure_logging(log_format, level=logging.INFO if verbose else logging.WARNING)

    async def go() -> DeliveryReport:
        domain = await ctx.open_domain()
        try:
            if status_dir is not None:
                with_status_page_dir(domain, str(status_dir.expanduser().resolve()))
            chores = [Chore("auto-close", AUTO_CLOSE_EVERY, lambda: close_resolved_cases(domain, WORKER))]
            async with DeliveryWorker(domain, chores=chores) as delivery:
                if once:
                    report = await delivery.drain()
                    await delivery.run_chores(all_of_them=True)
                    if domain.settings.delivery.status_page_dir:
                        await delivery.publish_status_page()
                    return report
                stop = stop_on_signals()
                # Like `pcso serve`, say on stderr when it is running: supervisors and scripts wait for it.
                click.echo(f"pcso worker: delivering notices ({domain.db.describe()})", err=True)
                return await delivery.run(stop)
        finally:
            await domain.close()

    report = run(go())
    click.echo(f"pcso worker: {_report_line(report)}")


@click.group("notices")
def notices() -> None:
    """The notification outbox: what went out, what is waiting, what died."""


@notices.command("list")
@click.option("--state", type=click.Choice(["pending", "sent", "dead", "skipped"]))
@click.option("--case", "case", metavar="CASE", help="Notices of a case (and its children).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@json_option
@pass_cli
def notices_list(ctx: CliContext, state: str | None, case: str | None, limit: int, offset: int, as_json: bool) -> None:
    """Notices, newest first."""
    from pcso_tui.domain.communications.delivery import list_notices

    case_id = case_id_of(case)

    run_command(
        ctx,
        list_notices,
        state=state,
        case_id=case_id,
        limit=limit,
        offset=offset,
        as_json=as_json,
        show=lambda found: emit_table(
            ["id", "kind", "state", "channel", "contact", "account", "case", "tries", "error"],
            [
                (
                    n.id,
                    n.kind,
                    n.state,
                    n.channel,
                    n.contact_name,
                    n.account_number,
                    n.case_number or n.outage_number or "",
                    n.attempts,
                    n.last_error or "",
                )
                for n in found
            ],
        ),
    )


@notices.command("counts")
@click.argument("case")
@json_option
@pass_cli
def notices_counts(ctx: CliContext, case: str, as_json: bool) -> None:
    """How many notices of a case (and its children) are pending, sent, dead or skipped."""
    from pcso_tui.domain.communications.delivery import notice_counts

    case_id = case_id_of(case)
    assert case_id is not None

    run_command(
        ctx,
        notice_counts,
        case_id,
        as_json=as_json,
        show=lambda counts: "  ".join(f"{state} {n}" for state, n in counts.items()),
    )


@notices.command("retry")
@click.argument("notice_id", type=int, required=False)
@click.option("--dead", "all_dead", is_flag=True, help="Every dead notice (of --case, if given).")
@click.option("--case", "case", metavar="CASE")
@pass_cli
def notices_retry(ctx: CliContext, notice_id: int | None, all_dead: bool, case: str | None) -> None:
    """Put a dead or skipped notice (or, with --dead, every dead one) back in the queue."""
    from pcso_tui.domain.communications.delivery import retry_dead_notices, retry_notice

    if (notice_id is None) == (not all_dead):
        raise click.UsageError("give a notice id, or --dead (optionally with --case)")
    if notice_id is not None and case is not None:
        raise click.UsageError("--case goes with --dead")
    case_id = case_id_of(case)

    async def action(domain: Domain, actor: Actor) -> Any:
        if notice_id is not None:
            return await retry_notice(domain, actor, notice_id)
        return await retry_dead_notices(domain, actor, case_id)

    result = with_domain(ctx, action)
    if isinstance(result, int):
        click.echo(f"re-queued {result} dead notice{'s' if result != 1 else ''}")
    else:
        click.echo(f"re-queued notice {result.id} to {one_line(result.contact_name)} ({result.channel})")


@click.command("status-page")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for index.html, status.json and feed.atom.",
)
@pass_cli
def status_page(ctx: CliContext, out_dir: Path) -> None:
    """Write the public status page (static HTML, JSON and Atom) into a directory."""
    from pcso_tui.domain.communications.outages import status_page_data
    from pcso_tui.plugins.statuspage import write_status_page

    async def go() -> list[Path]:
        domain = await ctx.open_domain()
        try:
            data = await status_page_data(domain)
        finally:
            await domain.close()
        return await asyncio.to_thread(write_status_page, data, out_dir)

    written = run(go())
    click.echo("wrote " + ", ".join(str(p) for p in written))


commands = (worker, notices, status_page)
