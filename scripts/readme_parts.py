"""Keep the generated parts of README.md and docs/cli.md in step with the code.

    python scripts/readme_parts.py          # rewrite them
    python scripts/readme_parts.py --check  # exit 1 if they are stale (tests/test_readme.py)

The KPI definitions come from ``domain/reporting/dashboard.py`` (the same text the dashboard's help
shows) and the CLI reference from the click commands themselves, so neither can drift.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CLI_DOC = ROOT / "docs" / "cli.md"


def kpi_section() -> str:
    from pcso_tui.domain.reporting.dashboard import KPIS

    groups = {"established": "The established measures", "ours": "Our own: how proactive we are"}
    lines: list[str] = []
    for group, heading in groups.items():
        lines += [f"**{heading}**", ""]
        for spec in KPIS:
            if spec.group == group:
                lines.append(f"- **{spec.title}** ({spec.unit}). {spec.definition}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    ctx = click.Context(group, info_name=prefix)
    out: list[tuple[str, click.Command]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        out.append((path, command))
        if isinstance(command, click.Group):
            out += _commands(command, path)
    return out


def cli_summary() -> str:
    from pcso_tui.cli import main

    ctx = click.Context(main, info_name="pcso")
    rows = ["| command | what it does |", "|---|---|"]
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        rows.append(f"| `pcso {name}` | {command.get_short_help_str(limit=90)} |")
    return "\n".join(rows) + "\n"


def cli_reference() -> str:
    from pcso_tui.cli import main

    parts = [
        "# CLI reference",
        "",
        "Generated from the commands themselves by `scripts/readme_parts.py`; `pcso COMMAND --help` "
        "prints the same. Every list takes `--json`. Exit codes: 0 done, 2 usage error, 3 not found, "
        "4 not allowed for your role, 5 illegal state transition, 6 invalid input, 7 conflict (changed by "
        "someone else, or already done), 8 unknown user, 9 schema outdated (run `pcso db upgrade`), "
        "10 database busy, 11 database cannot be opened (missing, not a pcso database, unreachable); "
        "the message on standard error says why.",
        "",
    ]
    # Every context gets the root's settings (-h as well as --help), as a real invocation would.
    settings = {**main.context_settings, "terminal_width": 100, "max_content_width": 100}
    with click.Context(main, info_name="pcso", **settings) as ctx:
        parts += ["## pcso", "", "```", main.get_help(ctx).rstrip(), "```", ""]
    for path, command in _commands(main, "pcso"):
        with click.Context(command, info_name=path, **settings) as ctx:
            parts += [f"## {path}", "", "```", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(parts).rstrip() + "\n"


def _replace(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {name}:begin/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def render() -> tuple[str, str]:
    readme = README.read_text(encoding="utf-8")
    readme = _replace(readme, "kpis", kpi_section())
    readme = _replace(readme, "cli", cli_summary())
    return readme, cli_reference()


def main() -> int:
    readme, cli_doc = render()
    if "--check" in sys.argv[1:]:
        stale = [
            str(path.relative_to(ROOT))
            for path, text in ((README, readme), (CLI_DOC, cli_doc))
            if not path.exists() or path.read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"stale: {', '.join(stale)} — run python scripts/readme_parts.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(readme, encoding="utf-8")
    CLI_DOC.write_text(cli_doc, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
