"""Refusals the domain hands back to whoever called it.

Every error carries one clear line for a person and an exit code for scripts. The domain
raises them before it writes anything, or inside a transaction that is then rolled back,
so a refused command changes nothing.

Every exit code the ``pcso`` command uses, in one place (scripts rely on them):

    0    ok
    1    DomainError: any other refusal; also ``pcso case approve`` declined at its prompt
    2    usage: a bad option or argument (click); ``pcso case approve`` off a terminal without ``--yes``
    3    NotFound
    4    PermissionDenied
    5    IllegalTransition
    6    InvalidInput (also alert_formats.MalformedPayload, alert_formats.BatchTooLarge)
    7    Conflict (also versions.StaleRecord: the record changed since it was read)
    8    UnknownUser
    9    SchemaOutdated (core/schema.py): the database needs ``pcso db upgrade``
    10   StorageBusy (core/service.py): the database stayed locked past the busy timeout
    11   DatabaseUnavailable (core/db.py): missing, not a pcso database, unsupported URL or
         driver, server unreachable or without that database
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused. ``str(error)`` is the one line to show."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])


class NotFound(DomainError):
    code = "not_found"
    exit_code = 3


class PermissionDenied(DomainError):
    code = "forbidden"
    exit_code = 4


class IllegalTransition(DomainError):
    code = "illegal_transition"
    exit_code = 5


class InvalidInput(DomainError):
    """Input that cannot be accepted; ``details`` names every offending row or field."""

    code = "invalid"
    exit_code = 6


class Conflict(DomainError):
    """The record changed since the caller read it (or a duplicate would be created)."""

    code = "conflict"
    exit_code = 7


class UnknownUser(DomainError):
    code = "unknown_user"
    exit_code = 8
