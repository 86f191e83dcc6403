"""The domain's extension points (pluggy hook specifications).

The domain defines and calls these; ``pcso_tui.plugins`` implements the built-ins, and
third-party packages add theirs through the ``pcso_tui`` entry-point group. Hooks are
synchronous (pluggy does not await); a hook that needs I/O returns an object whose async
methods the domain awaits in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pcso_tui.domain.casework.views import ProactiveCaseFacts
    from pcso_tui.domain.communications.channels import NotificationChannel
    from pcso_tui.domain.communications.views import StatusPageData
    from pcso_tui.domain.core.settings import Settings

PROJECT = "pcso_tui"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- workflow rules (domain/casework/cases.py calls these) ------------------------------------------


@hookspec(firstresult=True)
def pcso_workflow_proactive_case_opened(facts: ProactiveCaseFacts, settings: Settings) -> str | None:
    """Decide what happens to a proactive case that just opened (DESIGN §2 step 5).

    Return ``"none"``, ``"propose"`` (propose it as a major case) or ``"accept"`` (propose and
    approve it at once), optionally followed by ``": "`` and the reason to record, e.g.
    ``"propose: 3 gold accounts"``; or None to leave the decision to the next rule. The first
    answer wins: register with ``tryfirst=True`` to replace the built-in rule. Called inside the
    transaction that opens the case, so a rule that raises leaves no case behind.
    """


# --- notices and the status page ---------------------------------------------------------


@hookspec
def pcso_notification_channels(settings: Settings) -> list[NotificationChannel]:
    """The notification channels this plugin provides (see ``domain.channels``).

    Called once when a delivery worker starts. When two plugins offer a channel of the same
    name, the one registered last wins (a third-party plugin can replace a built-in).
    """


@hookspec
def pcso_publish_status_page(data: StatusPageData, settings: Settings) -> None:
    """Publish the public status page from ``data`` (customer-facing fields only).

    Called in a worker thread (it may block on I/O) whenever a statement, outage or
    resolution changes what the page shows.
    """
