"""``pcso outages`` and ``pcso articles``: what the status page and the notices say."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pcso_tui.cli.common import CliContext, emit_json, emit_table, json_option, pass_cli, run_command, with_domain
from pcso_tui.cli.delivery import case_id_of
from pcso_tui.domain.core.text import one_line, printable

if TYPE_CHECKING:
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain


class When(click.ParamType):
    """An ISO 8601 time (``2026-11-23T22:00``, ``…+01:00``) or ``now``; without a zone, UTC."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        if text.lower() == "now":
            return datetime.now(UTC)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is not a time like 2026-11-23T22:00 or 2026-11-23T22:00+01:00", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


WHEN = When()


def outage_id_of(value: str) -> int:
    from pcso_tui.domain.core.views import parse_number

    number = parse_number(value, "OUT")
    if number is None:
        raise click.BadParameter(f"{value!r} is not an outage number (OUT0000042)")
    return number


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if at else ""


def _read_body(body: str | None) -> str | None:
    """``-`` reads the text from standard input."""
    return sys.stdin.read() if body == "-" else body


# --- outages --------------------------------------------------------------------------------


@click.group("outages")
def outages() -> None:
    """Planned maintenance, outages and degradations (what the status page lists)."""


@outages.command("list")
@click.option("--status", type=click.Choice(["planned", "active", "past"]))
@json_option
@pass_cli
def outages_list(ctx: CliContext, status: str | None, as_json: bool) -> None:
    """Outages, newest first."""
    from pcso_tui.domain.communications.outages import list_outages

    run_command(
        ctx,
        list_outages,
        status=status,
        as_json=as_json,
        show=lambda found: emit_table(
            ["number", "status", "type", "service", "title", "begins", "ends"],
            [(o.number, o.status, o.type, o.service, o.title, _when(o.begins_at), _when(o.ends_at)) for o in found],
        ),
    )


@outages.command("add")
@click.option("--type", "kind", required=True, type=click.Choice(["planned", "unplanned", "degradation"]))
@click.option("--title", required=True, help="Customer-facing: shown on the status page.")
@click.option("--details", default="", help="Customer-facing details ('-' reads standard input).")
@click.option("--begins", "begins_at", type=WHEN, required=True, help="ISO time or 'now' (UTC unless a zone is given).")
@click.option("--ends", "ends_at", type=WHEN, help="ISO time (planned end, or when it ended).")
@click.option("--ci", "ci_name", metavar="NAME", help="The CI it concerns (planned: notifies dependent accounts).")
@click.option("--product", "product_number", metavar="NUMBER", help="The product it concerns.")
@click.option("--case", "case", metavar="CASE", help="The major case whose statements it shows.")
@click.option("--incident", "incident", metavar="INC", help="The incident whose ETA it shows.")
@json_option
@pass_cli
def outages_add(
    ctx: CliContext,
    kind: str,
    title: str,
    details: str,
    begins_at: datetime,
    ends_at: datetime | None,
    ci_name: str | None,
    product_number: str | None,
    case: str | None,
    incident: str | None,
    as_json: bool,
) -> None:
    """Record an outage; a planned one queues notices to the accounts that depend on it."""
    from pcso_tui.domain.communications.outages import create_outage
    from pcso_tui.domain.core.views import parse_number

    incident_id = None
    if incident is not None:
        incident_id = parse_number(incident, "INC")
        if incident_id is None:
            raise click.BadParameter(f"{incident!r} is not an incident number (INC0000042)")
    case_id = case_id_of(case)
    text = _read_body(details) or ""

    async def action(domain: Domain, actor: Actor) -> Any:
        return await create_outage(
            domain,
            actor,
            type=kind,
            title=title,
            details=text,
            begins_at=begins_at,
            ends_at=ends_at,
            ci_name=ci_name,
            product_number=product_number,
            case_id=case_id,
            incident_id=incident_id,
        )

    outage = with_domain(ctx, action)
    if as_json:
        emit_json(outage)
    else:
        click.echo(f"{outage.number} {outage.status} {outage.type}: {one_line(outage.title, 80)}")
        if outage.notices_queued:
            click.echo(f"queued {outage.notices_queued} notice{'s' if outage.notices_queued != 1 else ''}")
        if outage.notices_skipped:
            click.echo(f"skipped {outage.notices_skipped} (opted out)")


@outages.command("end")
@click.argument("outage")
@click.option("--at", "at", type=WHEN, help="When it ended (default: now).")
@pass_cli
def outages_end(ctx: CliContext, outage: str, at: datetime | None) -> None:
    """The outage is over."""
    from pcso_tui.domain.communications.outages import end_outage

    outage_id = outage_id_of(outage)

    run_command(
        ctx, end_outage, outage_id, at=at, show=lambda ended: f"{ended.number} ended {_when(ended.ends_at)} UTC"
    )


@outages.command("update")
@click.argument("outage")
@click.option("--title")
@click.option("--details", help="'-' reads standard input.")
@click.option("--type", "kind", type=click.Choice(["planned", "unplanned", "degradation"]))
@click.option("--begins", "begins_at", type=WHEN)
@click.option("--ends", "ends_at", type=WHEN)
@click.option("--expected-version", type=int, help="Refuse if the outage changed since this version.")
@pass_cli
def outages_update(
    ctx: CliContext,
    outage: str,
    title: str | None,
    details: str | None,
    kind: str | None,
    begins_at: datetime | None,
    ends_at: datetime | None,
    expected_version: int | None,
) -> None:
    """Change an outage (moving planned maintenance tells the accounts again)."""
    from pcso_tui.domain.communications.outages import update_outage

    outage_id = outage_id_of(outage)
    text = _read_body(details)
    extra: dict[str, Any] = {"ends_at": ends_at} if ends_at is not None else {}

    async def action(domain: Domain, actor: Actor) -> Any:
        return await update_outage(
            domain,
            actor,
            outage_id,
            title=title,
            details=text,
            type=kind,
            begins_at=begins_at,
            expected_version=expected_version,
            **extra,
        )

    updated = with_domain(ctx, action)
    click.echo(f"{updated.number} {updated.status} {updated.type}: {one_line(updated.title, 80)}")
    if updated.notices_queued:
        click.echo(f"queued {updated.notices_queued} notice{'s' if updated.notices_queued != 1 else ''}")
    if updated.notices_skipped:
        click.echo(f"skipped {updated.notices_skipped} (opted out)")


@outages.command("services")
@json_option
@pass_cli
def outages_services(ctx: CliContext, as_json: bool) -> None:
    """Public services by slug: what /banner/SLUG.json and /ivr/SLUG.txt address."""
    from pcso_tui.domain.communications.banners import public_services

    async def action(domain: Domain, actor: Actor | None) -> Any:
        return await public_services(domain)

    found = with_domain(ctx, action, sign_in=False)
    if as_json:
        emit_json(found)
    else:
        emit_table(["slug", "service"], [(s.slug, s.name) for s in found])


@outages.command("ivr")
@click.argument("service")
@click.option(
    "--wav",
    "wav",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also speak it into this WAV file (needs espeak-ng).",
)
@pass_cli
def outages_ivr(ctx: CliContext, service: str, wav: Path | None) -> None:
    """What a phone queue tells callers about SERVICE (a slug, see `pcso outages services`) now:
    at most 300 characters of public wording; nothing while no outage affects it."""
    from pcso_tui.domain.communications.banners import service_ivr

    speaker = shutil.which("espeak-ng") if wav is not None else None
    if wav is not None and speaker is None:
        raise click.ClickException("--wav needs espeak-ng (Debian: apt-get install espeak-ng)")

    async def action(domain: Domain, actor: Actor | None) -> str:
        return await service_ivr(domain, service)

    message = with_domain(ctx, action, sign_in=False)
    if not message:
        click.echo(f"no active outage affects {service}", err=True)
        return
    click.echo(message)
    if wav is not None and speaker is not None:
        # The text goes in on stdin: never read as an option or a file name.
        spoken = subprocess.run(
            [speaker, "--stdin", "-w", str(wav)], input=message, text=True, capture_output=True, check=False
        )
        if spoken.returncode != 0:
            raise click.ClickException(f"espeak-ng failed: {one_line(spoken.stderr, 200) or spoken.returncode}")


# --- articles -------------------------------------------------------------------------------


@click.group("articles")
def articles() -> None:
    """Knowledge and workaround articles, attached to major cases."""


@articles.command("add")
@click.option("--title", required=True)
@click.option("--body", required=True, help="The text ('-' reads standard input).")
@click.option("--number", help="Its number (default: KB + its id).")
@click.option("--kind", type=click.Choice(["workaround", "knowledge"]), default="workaround", show_default=True)
@click.option("--internal", is_flag=True, help="Staff only: never shown to customers.")
@click.option("--product", "product_number", metavar="NUMBER", help="The product it is about (default: general).")
@json_option
@pass_cli
def articles_add(
    ctx: CliContext,
    title: str,
    body: str,
    number: str | None,
    kind: str,
    internal: bool,
    product_number: str | None,
    as_json: bool,
) -> None:
    """Write an article."""
    from pcso_tui.domain.communications.articles import create_article

    text = _read_body(body) or ""

    run_command(
        ctx,
        create_article,
        title=title,
        body=text,
        number=number,
        kind=kind,
        customer_visible=not internal,
        product_number=product_number,
        as_json=as_json,
        show=lambda article: f"added {article.number}: {one_line(article.title, 80)}",
    )


@articles.command("attach")
@click.argument("case")
@click.argument("number")
@pass_cli
def articles_attach(ctx: CliContext, case: str, number: str) -> None:
    """Attach article NUMBER to major case CASE."""
    from pcso_tui.domain.communications.articles import attach_article

    case_id = case_id_of(case)
    assert case_id is not None

    run_command(
        ctx,
        attach_article,
        case_id,
        number,
        show=lambda article: f"attached {article.number} to {', '.join(article.case_numbers)}",
    )


@articles.command("detach")
@click.argument("case")
@click.argument("number")
@pass_cli
def articles_detach(ctx: CliContext, case: str, number: str) -> None:
    """Detach article NUMBER from major case CASE."""
    from pcso_tui.domain.communications.articles import detach_article

    case_id = case_id_of(case)
    assert case_id is not None

    run_command(ctx, detach_article, case_id, number, show=lambda article: f"detached {article.number}")


@articles.command("list")
@click.option("--case", "case", metavar="CASE", help="Articles of a case (its major case's).")
@json_option
@pass_cli
def articles_list(ctx: CliContext, case: str | None, as_json: bool) -> None:
    """Articles (customers see the customer-visible ones of their cases)."""
    from pcso_tui.domain.communications.articles import list_articles

    case_id = case_id_of(case)

    run_command(
        ctx,
        list_articles,
        case_id=case_id,
        as_json=as_json,
        show=lambda found: emit_table(
            ["number", "kind", "visible", "title", "cases"],
            [
                (a.number, a.kind, "customers" if a.customer_visible else "staff", a.title, ", ".join(a.case_numbers))
                for a in found
            ],
        ),
    )


@articles.command("search")
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 50), default=10, show_default=True)
@json_option
@pass_cli
def articles_search(ctx: CliContext, query: str, limit: int, as_json: bool) -> None:
    """Search the articles you may read (customers: published ones of their products and
    general ones), best first; matched words are marked with [ ] in the table."""
    from pcso_tui.domain.communications.articles import search_articles

    def show(found: Any) -> None:
        if not found.hits:
            click.echo("no articles found", err=True)
            return
        emit_table(
            ["number", "kind", "product", "title", "excerpt"],
            [
                (
                    h.number,
                    h.kind,
                    h.product or "",
                    h.title,
                    "".join(f"[{s.text}]" if s.highlighted else s.text for s in h.snippet),
                )
                for h in found.hits
            ],
        )

    run_command(ctx, search_articles, query, limit=limit, as_json=as_json, show=show)


@articles.command("open")
@click.argument("number")
@json_option
@pass_cli
def articles_open(ctx: CliContext, number: str, as_json: bool) -> None:
    """Read article NUMBER (a customer's read is counted)."""
    from pcso_tui.domain.communications.articles import open_article

    def show(article: Any) -> None:
        click.echo(f"{article.number}: {one_line(article.title)}")
        click.echo(printable(article.body, multiline=True))

    run_command(ctx, open_article, number, as_json=as_json, show=show)


@click.group("catalogue")
def catalogue() -> None:
    """The public service catalogue: what customers call each product and CI, and whether they
    are told about it. Notices, the portal and the status page name services from it."""


@catalogue.command("list")
@click.option("--entry", type=click.Choice(["product", "ci"]), help="Only products or only CIs.")
@json_option
@pass_cli
def catalogue_list(ctx: CliContext, entry: str | None, as_json: bool) -> None:
    """Every product and CI: public name, customer-facing, and what customers see it as."""
    from pcso_tui.domain.communications.catalogue import list_catalogue

    def show(entries: Any) -> None:
        flag = {True: "yes", False: "no", None: "by kind"}
        emit_table(
            ["entry", "key", "kind", "public name", "customer-facing", "customers see"],
            [(e.entry, e.key, e.kind, e.public_name or "", flag[e.customer_facing], e.shown_as) for e in entries],
        )

    run_command(ctx, list_catalogue, entry=entry, as_json=as_json, show=show)


@catalogue.command("set")
@click.argument("entry", type=click.Choice(["product", "ci"]))
@click.argument("key", metavar="NUMBER|NAME")
@click.option("--public-name", help="What customers call it ('' clears it).")
@click.option(
    "--customer-facing",
    type=click.Choice(["yes", "no", "by-kind"]),
    help="Whether customers are told about it (by-kind: a CI decided by its kind).",
)
@json_option
@pass_cli
def catalogue_set(
    ctx: CliContext, entry: str, key: str, public_name: str | None, customer_facing: str | None, as_json: bool
) -> None:
    """Set a product's (by number) or a CI's (by name) public name and customer-facing flag."""
    from pcso_tui.domain.communications.catalogue import KEEP, set_catalogue_entry

    facing = KEEP if customer_facing is None else {"yes": True, "no": False, "by-kind": None}[customer_facing]
    run_command(
        ctx,
        set_catalogue_entry,
        entry,
        key,
        public_name=KEEP if public_name is None else public_name,
        customer_facing=facing,
        as_json=as_json,
        show=lambda e: f"{e.entry} {one_line(e.key, 80)}: customers see it as {one_line(e.shown_as, 80)}",
    )


commands = (outages, articles, catalogue)
