"""What can be configured, with its defaults.

Plain dataclasses, one per section of the config file (``[workflow]``, ``[correlation]`` …).
``pcso_tui.config`` fills them from TOML and the environment; the domain only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    """What happens when a proactive case opens (DESIGN §2 step 5)."""

    # none | propose | accept
    on_proactive_case: str = "propose"
    # The rule acts only when this many accounts are affected.
    account_threshold: int = 2


@dataclass(frozen=True, slots=True)
class Settings:
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
