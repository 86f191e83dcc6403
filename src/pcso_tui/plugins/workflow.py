"""The built-in workflow rule: what happens when a proactive case opens.

Configured in ``[workflow]``::

    on_proactive_case = "propose"   # none | propose | accept
    account_threshold = 2           # act only when this many external accounts are affected

Internal accounts (our own departments) do not count: a major case exists to tell customers.
A third-party rule registered with ``tryfirst=True`` answers first and so replaces this one.
"""

from __future__ import annotations

from pcso_tui.domain.casework.views import ProactiveCaseFacts
from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.hookspecs import hookimpl

DECISIONS = ("none", "propose", "accept")


@hookimpl
def pcso_workflow_proactive_case_opened(facts: ProactiveCaseFacts, settings: Settings) -> str | None:
    rule = settings.workflow
    if rule.on_proactive_case not in DECISIONS:
        raise InvalidInput(
            f"[workflow] on_proactive_case = {rule.on_proactive_case!r} is not one of {', '.join(DECISIONS)}"
        )
    if rule.on_proactive_case == "none" or facts.external_accounts < rule.account_threshold:
        return "none"
    return f"{rule.on_proactive_case}: rule: {facts.external_accounts} accounts ≥ threshold {rule.account_threshold}"
