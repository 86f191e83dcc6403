"""``pcso insight``: recommendations, known outages, trending topics and likely affected accounts.

Staff only (customers are refused). Every command takes ``--json``; the recommendations print
their reasons line by line. See docs/insight.md for the thresholds (``[insight]`` in the config).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.cases import CASE
from pcso_tui.cli.common import CliContext, emit_json, emit_table, json_option, pass_cli, run_command, with_domain
from pcso_tui.domain.core.text import one_line

if TYPE_CHECKING:
    from pcso_tui.domain.casework.views import KnownOutageView, Recommendation
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain


@click.group("insight")
def group() -> None:
    """Similar cases, recommendations, trending topics, likely affected accounts."""


def _stamp(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "—"


def _print_known(known: tuple[KnownOutageView, ...]) -> None:
    for k in known:
        click.echo(
            f"Known outage {k.number} ({k.state}, by {k.matched_by}): {one_line(k.short_description, 70)}"
            f" · ETA {_stamp(k.eta)} · {k.affected_accounts} accounts · {k.deflected} calls deflected"
        )
        if k.statement:
            click.echo(f"  statement ({_stamp(k.statement_at)}): {one_line(k.statement, 100)}")


@group.command("similar")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@json_option
@pass_cli
def similar(ctx: CliContext, case_id: int, limit: int, as_json: bool) -> None:
    """Open cases in the window similar to CASE, most similar first."""
    from pcso_tui.domain.casework.insight import similar_cases

    run_command(
        ctx,
        similar_cases,
        case_id,
        limit=limit,
        as_json=as_json,
        show=lambda found: emit_table(
            ["case", "score", "text", "context", "account", "opened", "terms", "description"],
            [
                (
                    s.number,
                    f"{s.score:.2f}",
                    f"{s.text_score:.2f}",
                    "+".join(w for w, on in (("product", s.same_product), ("ci", s.same_ci)) if on),
                    s.account_number or "",
                    _stamp(s.opened_at),
                    " ".join(s.matched_terms),
                    s.short_description,
                )
                for s in found
            ],
        ),
    )


def _print_recommendation(rec: Recommendation) -> None:
    click.echo(f"{rec.case_number}: {one_line(rec.headline, 100)}")
    for reason in rec.reasons:
        click.echo(f"  · {one_line(reason, 110)}")
    if rec.proposed_title:
        click.echo(f"  proposed title: {one_line(rec.proposed_title, 100)}")
    _print_known(rec.known_outages)


@group.command("recommend")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.option("--propose", is_flag=True, help="Act on a 'propose' recommendation: open the major case candidate.")
@click.option("--reason", default=None, help="The proposal's reason (default: the recommendation's).")
@click.option("--business-impact", default=None, help="The proposal's business impact.")
@json_option
@pass_cli
def recommend(
    ctx: CliContext, case_id: int, propose: bool, reason: str | None, business_impact: str | None, as_json: bool
) -> None:
    """What to do with CASE: attach it to a major case, propose a new one, or nothing yet — and why."""
    from pcso_tui.domain.casework import insight

    async def action(domain: Domain, actor: Actor) -> Any:
        rec = await insight.recommend(domain, actor, case_id)
        if not propose:
            return rec, None
        made = await insight.propose_recommended(domain, actor, case_id, reason=reason, business_impact=business_impact)
        return rec, made

    rec, made = with_domain(ctx, action)
    if as_json:
        emit_json({"recommendation": rec, "proposed": made})
        return
    _print_recommendation(rec)
    if made is not None:
        click.echo(
            f"Proposed {made.number}: {one_line(made.short_description, 90)} ({len(rec.case_ids)} cases grouped)"
        )


@group.command("known-outage")
@click.argument("account")
@click.option("--product", default=None, metavar="NUMBER", help="The product the caller names.")
@json_option
@pass_cli
def known_outage(ctx: CliContext, account: str, product: str | None, as_json: bool) -> None:
    """Active major cases that already cover a caller of ACCOUNT (statement and ETA)."""
    from pcso_tui.domain.casework.insight import known_outages

    async def action(domain: Domain, actor: Actor) -> Any:
        return await known_outages(domain, actor, account, product_number=product)

    found = with_domain(ctx, action)
    if as_json:
        emit_json(found)
    elif not found:
        click.echo(f"No known outage for {one_line(account, 40)}")
    else:
        _print_known(found)


@group.command("attach")
@click.argument("case_id", type=CASE, metavar="CASE")
@click.argument("major_id", type=CASE, metavar="MAJOR_CASE")
@json_option
@pass_cli
def attach(ctx: CliContext, case_id: int, major_id: int, as_json: bool) -> None:
    """Attach a customer's call CASE to MAJOR_CASE, a known outage for it (deflected)."""
    from pcso_tui.domain.casework.insight import attach_to_known_outage

    run_command(
        ctx,
        attach_to_known_outage,
        case_id,
        major_id,
        as_json=as_json,
        show=lambda view: f"{view.number} attached to {view.parent_number} (deflected)",
    )


@group.command("topics")
@click.option("--rising", is_flag=True, help="Only the rising topics.")
@click.option("--limit", type=click.IntRange(1, 200), default=30, show_default=True)
@click.option("--propose", "propose_id", type=CASE, metavar="TOPIC", help="Propose a major case from this topic.")
@click.option("--link", "link_id", type=CASE, metavar="TOPIC", help="Link this topic's cases to --to.")
@click.option("--to", "major_id", type=CASE, metavar="MAJOR_CASE", help="The major case --link attaches to.")
@json_option
@pass_cli
def topics(
    ctx: CliContext,
    rising: bool,
    limit: int,
    propose_id: int | None,
    link_id: int | None,
    major_id: int | None,
    as_json: bool,
) -> None:
    """Inbound cases clustered into topics, rising ones first. A topic is named by its first case."""
    from pcso_tui.domain.casework import insight

    if link_id is not None and major_id is None:
        raise click.UsageError("--link needs --to MAJOR_CASE")
    if propose_id is not None and link_id is not None:
        raise click.UsageError("--propose and --link are two different actions; give one")

    async def action(domain: Domain, actor: Actor) -> Any:
        if propose_id is not None:
            return await insight.propose_from_topic(domain, actor, await insight.find_topic(domain, actor, propose_id))
        if link_id is not None:
            assert major_id is not None
            return await insight.link_topic(domain, actor, link_id, major_id)
        return await insight.trending_topics(domain, actor, limit=limit, rising_only=rising)

    result = with_domain(ctx, action)
    if as_json:
        emit_json(result)
        return
    if propose_id is not None:
        click.echo(f"Proposed {result.number}: {one_line(result.short_description, 90)}")
        return
    if link_id is not None:
        click.echo(f"{len(result.attached)} cases linked to {result.number}")
        for line in result.skipped:
            click.echo(f"  skipped: {one_line(line, 100)}")
        return
    click.echo(
        f"{result.cases} inbound cases since {_stamp(result.baseline_start)}; "
        f"recent since {_stamp(result.recent_start)}"
    )
    emit_table(
        ["topic", "trend", "recent", "baseline", "expected", "growth", "accounts", "open", "terms"],
        [
            (
                f"CS{t.id:07d}",
                "▲ rising" if t.rising else "· steady",
                t.recent,
                t.baseline,
                f"{t.expected:g}",
                f"{t.growth:g}×",
                t.accounts,
                len(t.case_ids),
                t.label,
            )
            for t in result.topics
        ],
    )


@group.command("likely")
@click.argument("major_id", type=CASE, metavar="MAJOR_CASE", required=False)
@click.option("--accounts", default=None, metavar="A,B,…", help="Known-affected account numbers instead of a case.")
@click.option("--limit", type=click.IntRange(1, 200), default=30, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--add", "add", default=None, metavar="A,B,…", help="Add these likely accounts to MAJOR_CASE.")
@json_option
@pass_cli
def likely(
    ctx: CliContext,
    major_id: int | None,
    accounts: str | None,
    limit: int,
    offset: int,
    add: str | None,
    as_json: bool,
) -> None:
    """Accounts likely affected too: what the known-affected share beyond chance, and who else has it."""
    from pcso_tui.domain.casework import insight

    if (major_id is None) == (accounts is None):
        raise click.UsageError("give MAJOR_CASE or --accounts — one of the two")
    if add and major_id is None:
        raise click.UsageError("--add needs MAJOR_CASE")
    numbers = [n.strip() for n in (accounts or "").split(",") if n.strip()]

    async def action(domain: Domain, actor: Actor) -> Any:
        if add:
            assert major_id is not None
            return await insight.add_likely_accounts(domain, actor, major_id, [n for n in add.split(",") if n.strip()])
        return await insight.likely_affected(
            domain, actor, major_case_id=major_id, account_numbers=numbers, limit=limit, offset=offset
        )

    result = with_domain(ctx, action)
    if as_json:
        emit_json(result)
        return
    if add:
        click.echo(
            f"{result.number}: {result.accounts_added} likely accounts added ({result.accounts_already} already), "
            f"{result.children_created} child cases, {result.notices_queued} notices"
        )
        return
    click.echo(f"{result.known_accounts} known-affected accounts of {result.population}")
    for f in result.factors:
        click.echo(
            f"  {one_line(f.label, 50)}: {f.affected_with}/{f.affected} affected vs {f.base_with}/{f.base} "
            f"(×{f.lift:g}, p={f.p_value:.2g})"
        )
    if not result.factors:
        click.echo("  nothing they share stands out from the install base")
        return
    click.echo(f"{result.total} other accounts share something; {offset + 1}–{offset + len(result.accounts)}:")
    emit_table(
        ["account", "name", "tier", "severity", "likelihood", "score", "factors"],
        [
            (a.number, a.name, a.tier, a.severity, f"{a.likelihood:.0%}", f"{a.score:.2f}", "; ".join(a.factors))
            for a in result.accounts
        ],
    )


@group.command("link")
@click.argument("major_id", type=CASE, metavar="MAJOR_CASE")
@click.argument("case_ids", type=CASE, nargs=-1, metavar="[CASE]...")
@json_option
@pass_cli
def link(ctx: CliContext, major_id: int, case_ids: tuple[int, ...], as_json: bool) -> None:
    """Attach cases to an approved MAJOR_CASE (without CASEs: the ones its proposal grouped)."""
    from pcso_tui.domain.casework import insight

    async def action(domain: Domain, actor: Actor) -> Any:
        if case_ids:
            return await insight.link_cases(domain, actor, major_id, case_ids)
        return await insight.link_grouped(domain, actor, major_id)

    result = with_domain(ctx, action)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{len(result.attached)} cases linked to {result.number}")
    for line in result.skipped:
        click.echo(f"  skipped: {one_line(line, 100)}")
