"""Logging for the long-running commands (``pcso serve``, ``pcso worker``, ``pcso healthcheck
run``): one line per record on standard error, each stamped in UTC, as text for people or as
JSON Lines for log shippers (``--log-format json``).

The standard ``logging`` module does the work; this only sets its format once per process.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

LOG_FORMATS = ("text", "json")
F = TypeVar("F", bound=Callable[..., Any])


def log_format_option(command: F) -> F:
    return click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        default="text",
        show_default=True,
        help="Log lines as text, or as JSON Lines (one object per line) for a log shipper.",
    )(command)


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """``2026-12-07T23:07:33.560Z INFO pcso.receiver message``."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record)} {record.levelname} {record.name} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str = "text", *, level: int = logging.INFO) -> None:
    """Send log records to standard error in ``log_format``, replacing any earlier setup."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
