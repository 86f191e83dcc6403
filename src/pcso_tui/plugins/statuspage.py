"""The public status page: static HTML, a JSON document and an Atom feed.

Rendered from ``StatusPageData`` (``domain.outages.status_page_data``), which carries only
customer-facing fields. Every piece of text is normalised for customers (``customer_text``:
line endings, tabs, bidirectional overrides, control characters made visible) and then escaped
(``html.escape`` for the page, the XML serializer for the feed, ``json`` for the document), so
a hostile outage title cannot inject markup or break the documents, and the three say the same
words. The page needs no JavaScript.

Each file is written atomically: to a temporary file in the same directory, flushed and
fsynced, then renamed over the old one, so a web server never serves half a page.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from pcso_tui.domain.communications.views import PublicOutage, StatusPageData
from pcso_tui.domain.core.channels import StatusPagePublisher
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.core.text import customer_text
from pcso_tui.domain.core.views import to_jsonable
from pcso_tui.domain.hookspecs import hookimpl

ATOM = "http://www.w3.org/2005/Atom"

STATUS_HEADINGS = (
    ("active", "Current outages", "No current outages: all services are running normally."),
    ("planned", "Planned maintenance", "No maintenance is planned."),
    ("past", "Past outages", "No outages in the last days."),
)
STATUS_WORDS = {"active": "Ongoing", "planned": "Planned", "past": "Resolved"}
TYPE_WORDS = {"unplanned": "Outage", "planned": "Planned maintenance", "degradation": "Degraded performance"}

# Code points HTML and XML forbid even as text: surrogates and non-characters.
_FORBIDDEN = re.compile("[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")

CSS = """
body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 0 auto; padding: 1rem; line-height: 1.5;
       color: #1a1a1a; background: #fff; }
header { border-bottom: 2px solid #1a1a1a; margin-bottom: 1rem; }
h1 { margin: 0.5rem 0; }
h2 { margin-top: 2rem; }
article { border: 1px solid #767676; border-radius: 4px; padding: 0 1rem; margin: 1rem 0; }
.status { font-weight: bold; }
.status-active { border-left: 6px solid #b00020; }
.status-planned { border-left: 6px solid #005a9c; }
.status-past { border-left: 6px solid #2e7d32; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0 1rem; }
dt { font-weight: bold; }
dd { margin: 0; }
footer { margin-top: 2rem; border-top: 1px solid #767676; font-size: 0.9rem; }
"""


def clean(text: str | None) -> str:
    """Untrusted text made safe to embed: normalised for customers (``customer_text``), and code
    points HTML and XML forbid replaced (newlines kept)."""
    return _FORBIDDEN.sub("\ufffd", customer_text(text))


def _e(text: str | None) -> str:
    return html.escape(clean(text), quote=True)


def _paragraphs(text: str | None) -> str:
    parts = [p.strip("\n") for p in clean(text).split("\n\n") if p.strip()]
    return "\n".join("<p>" + "<br>\n".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in parts)


def _when(at: datetime | None) -> str:
    if at is None:
        return ""
    at = at.astimezone(UTC)
    # Whole seconds: the HTML standard's valid global date-and-time string allows at most
    # three fraction digits, and Python writes six.
    return f'<time datetime="{at.isoformat(timespec="seconds")}">{at.strftime("%Y-%m-%d %H:%M UTC")}</time>'


def _outage_html(o: PublicOutage) -> str:
    rows = []
    if o.status == "planned":
        rows.append(("Begins", _when(o.begins_at)))
        if o.ends_at:
            rows.append(("Ends", _when(o.ends_at)))
    else:
        rows.append(("Began", _when(o.begins_at)))
        if o.status == "past" and o.ends_at:
            rows.append(("Ended", _when(o.ends_at)))
        elif o.eta:
            rows.append(("Expected resolution", _when(o.eta)))
    parts = [
        f'<article class="status-{o.status}" aria-labelledby="{o.number}">',
        f'<h4 id="{o.number}">{_e(o.title)}</h4>',
        f'<p class="status">{STATUS_WORDS.get(o.status, o.status)} · {TYPE_WORDS.get(o.type, _e(o.type))}</p>',
        "<dl>" + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows) + "</dl>",
    ]
    if o.details.strip():
        parts.append(_paragraphs(o.details))
    if o.resolution:
        parts.append(f"<h5>Resolved, {_when(o.resolved_at)}</h5>")
        parts.append(_paragraphs(o.resolution))
    if o.statement:
        parts.append(f"<h5>Latest update, {_when(o.statement_at)}</h5>")
        parts.append(_paragraphs(o.statement))
    for article in o.articles:
        parts.append(f"<h5>Workaround {_e(article.number)}: {_e(article.title)}</h5>")
        parts.append(_paragraphs(article.body))
    parts.append("</article>")
    return "\n".join(parts)


def render_html(data: StatusPageData) -> str:
    counts = {status: len(data.with_status(status)) for status, _, _ in STATUS_HEADINGS}
    summary = (
        "All services are running normally."
        if counts["active"] == 0
        else f"{counts['active']} ongoing outage{'s' if counts['active'] != 1 else ''}."
    )
    if counts["planned"]:
        summary += f" {counts['planned']} planned maintenance window{'s' if counts['planned'] != 1 else ''}."
    body = []
    for status, heading, empty in STATUS_HEADINGS:
        body.append(f'<section aria-labelledby="{status}">')
        body.append(f'<h2 id="{status}">{heading}</h2>')
        groups = data.by_service(status)
        if not groups:
            body.append(f"<p>{empty}</p>")
        for n, (service, outages) in enumerate(groups, 1):
            body.append(f'<section aria-labelledby="{status}-service-{n}">')
            body.append(f'<h3 id="{status}-service-{n}">{_e(service)}</h3>')
            body.extend(_outage_html(o) for o in outages)
            body.append("</section>")
        body.append("</section>")
    title = _e(data.title)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{title}</title>",
            f'<link rel="alternate" type="application/atom+xml" title="{title}" href="feed.atom">',
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>{title}</h1>",
            f'<p class="status">{summary}</p>',
            f"<p>Updated {_when(data.generated_at)}.</p>",
            "</header>",
            "<main>",
            *body,
            "</main>",
            "<footer>",
            '<p>Also as <a href="status.json">JSON</a> and as an <a href="feed.atom">Atom feed</a>.</p>',
            "</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


def render_json(data: StatusPageData) -> str:
    # A service is disrupted while any outage on it is active, else maintenance is planned.
    rank = {"past": 0, "planned": 1, "active": 2}
    worst: dict[str, str] = {}
    for o in data.outages:
        if rank[o.status] >= rank[worst.get(o.service, "past")]:
            worst[o.service] = o.status
    state = {"active": "disrupted", "planned": "maintenance_planned", "past": "operational"}
    document = {
        "title": data.title,
        "generated_at": data.generated_at.isoformat(),
        "next_change_at": data.next_change_at.isoformat() if data.next_change_at else None,
        "summary": {status: len(data.with_status(status)) for status, _, _ in STATUS_HEADINGS},
        "services": [{"name": name, "state": state[worst[name]]} for name in sorted(worst, key=str.casefold)],
        # Outages go by their number in public, never by the row id.
        "outages": _cleaned([{k: v for k, v in to_jsonable(o).items() if k != "id"} for o in data.outages]),
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _cleaned(value: Any) -> Any:
    """Every string of a JSON-ready structure through ``clean``: the document carries the same
    words as the page and the feed."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, dict):
        return {k: _cleaned(v) for k, v in value.items()}
    return value


def _entry_id(data: StatusPageData, number: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"pcso-tui:{data.title}:outage:{number}").urn


def render_atom(data: StatusPageData) -> bytes:
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = clean(text)
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "title", data.title)
    sub(feed, "id", uuid.uuid5(uuid.NAMESPACE_URL, f"pcso-tui:{data.title}:status").urn)
    updated = max([o.updated_at for o in data.outages], default=data.generated_at)
    sub(feed, "updated", updated.astimezone(UTC).isoformat())
    author = sub(feed, "author")
    sub(author, "name", data.title)
    sub(feed, "link", rel="alternate", type="text/html", href="index.html")
    sub(feed, "link", rel="self", type="application/atom+xml", href="feed.atom")
    for o in sorted(data.outages, key=lambda o: (o.updated_at, o.number), reverse=True):
        entry = sub(feed, "entry")
        word = STATUS_WORDS.get(o.status, o.status)
        sub(entry, "title", f"[{word}] {o.service}: {o.title}")
        sub(entry, "id", _entry_id(data, o.number))
        sub(entry, "updated", o.updated_at.astimezone(UTC).isoformat())
        # Maintenance announced for later begins after the entry was last updated; published is
        # never later than updated (RFC 4287 readers sort and dedupe by them).
        sub(entry, "published", min(o.begins_at, o.updated_at).astimezone(UTC).isoformat())
        sub(entry, "link", rel="alternate", type="text/html", href=f"index.html#{o.number}")
        lines = [f"{word} · {TYPE_WORDS.get(o.type, o.type)} · {o.service}"]
        lines.append(f"Begins: {o.begins_at.astimezone(UTC):%Y-%m-%d %H:%M UTC}")
        if o.ends_at:
            lines.append(f"Ends: {o.ends_at.astimezone(UTC):%Y-%m-%d %H:%M UTC}")
        elif o.eta:
            lines.append(f"Expected resolution: {o.eta.astimezone(UTC):%Y-%m-%d %H:%M UTC}")
        if o.details.strip():
            lines.append(o.details)
        if o.resolution and o.resolved_at:
            lines.append(f"Resolved ({o.resolved_at.astimezone(UTC):%Y-%m-%d %H:%M UTC}): {o.resolution}")
        if o.statement:
            lines.append(f"Latest update: {o.statement}")
        lines.extend(f"Workaround {a.number}: {a.title}\n{a.body}" for a in o.articles)
        sub(entry, "content", "\n\n".join(lines), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def write_atomically(directory: Path, name: str, data: bytes) -> Path:
    """Replace ``directory/name`` with ``data`` so that readers see the old or the new file whole."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return directory / name


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_status_page(data: StatusPageData, directory: Path | str) -> list[Path]:
    """Write ``status.json``, ``feed.atom`` and ``index.html`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    documents: Iterable[tuple[str, bytes]] = (
        ("status.json", render_json(data).encode("utf-8")),
        ("feed.atom", render_atom(data)),
        ("index.html", render_html(data).encode("utf-8")),
    )
    written = [write_atomically(directory, name, content) for name, content in documents]
    _fsync_directory(directory)
    return written


class StaticFiles:
    """The built-in publisher: static files in one directory (written in a worker thread)."""

    name = "files"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def publish(self, data: StatusPageData) -> None:
        await asyncio.to_thread(write_status_page, data, self.directory)


@hookimpl
def pcso_status_page_publishers(settings: Settings) -> list[StatusPagePublisher]:
    """Static files in ``[delivery] status_page_dir``, when it is set."""
    if not settings.delivery.status_page_dir:
        return []
    return [StaticFiles(Path(settings.delivery.status_page_dir).expanduser())]
