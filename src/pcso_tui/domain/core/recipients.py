"""Who of an affected account is told: ``[delivery] notify`` as one SQL condition.

Every notice fan-out (approval, attach, statement, resolution, outages) joins the accounts it
reaches to their contacts and keeps those this condition admits, so the rule is written once.
Opted-out contacts are admitted here: the fan-out records a ``skipped`` notice for them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, true


def notified(contact: Any, notify: str | tuple[str, ...]) -> ColumnElement[bool]:
    """Whether a row of ``contact`` (the table or an alias of it) is one ``notify`` names."""
    if notify == "all":
        return true()
    primary: ColumnElement[bool] = contact.c.is_primary.is_(True)
    if notify == "primary":
        return primary
    roles = [r for r in notify if r != "primary"]
    terms: list[ColumnElement[bool]] = []
    if "primary" in notify:
        terms.append(primary)
    if roles:
        terms.append(func.lower(contact.c.role).in_(roles))
    return or_(*terms) if terms else false()


def describe(notify: str | tuple[str, ...]) -> str:
    """``every contact`` / ``the primary contact`` / ``the primary and technical contacts``."""
    if notify == "all":
        return "every contact"
    if notify == "primary":
        return "the primary contact"
    names = list(notify)
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"the {listed} contacts"
