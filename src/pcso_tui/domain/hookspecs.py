"""The domain's extension points (pluggy hook specifications).

The domain defines and calls these; ``pcso_tui.plugins`` implements the built-ins, and
third-party packages add theirs through the ``pcso_tui`` entry-point group. Hooks are
synchronous (pluggy does not await); a hook that needs I/O returns an object whose async
methods the domain awaits in one place.
"""

from __future__ import annotations

import pluggy

PROJECT = "pcso_tui"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- workflow rules (domain/cases.py calls these) ------------------------------------------

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from pcso_tui.domain.settings import Settings
    from pcso_tui.domain.views import ProactiveCaseFacts


@hookspec(firstresult=True)
def pcso_workflow_proactive_case_opened(facts: ProactiveCaseFacts, settings: Settings) -> str | None:
    """Decide what happens to a proactive case that just opened (DESIGN §2 step 5).

    Return ``"none"``, ``"propose"`` (propose it as a major case) or ``"accept"`` (propose and
    approve it at once), optionally followed by ``": "`` and the reason to record, e.g.
    ``"propose: 3 gold accounts"``; or None to leave the decision to the next rule. The first
    answer wins: register with ``tryfirst=True`` to replace the built-in rule. Called inside the
    transaction that opens the case, so a rule that raises leaves no case behind.
    """
