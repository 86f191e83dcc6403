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


# --- ingest (alerts in) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Alert ingestion (``[ingest]``): CI mapping, limits, flapping. See docs/alerts.md."""

    # Labels looked up, in order, to find an alert's CI by name (``instance`` loses its :port).
    ci_labels: tuple[str, ...] = ("ci", "instance", "service", "job")
    # The receiver refuses a request body larger than this (413).
    max_body_bytes: int = 1_048_576
    # An alert is flapping after this many state changes, each within the window of the last;
    # it settles once it has been quiet (no state change) for a whole window.
    flap_threshold: int = 4
    flap_window_seconds: int = 900
    # The receiver refuses a request carrying more alerts than this (413).
    max_alerts_per_batch: int = 10_000

    def __post_init__(self) -> None:
        from pcso_tui.domain.errors import InvalidInput

        problems = [
            f"ingest.{name} must be at least {least} (is {value})"
            for name, value, least in (
                ("max_body_bytes", self.max_body_bytes, 1024),
                ("flap_threshold", self.flap_threshold, 2),
                ("flap_window_seconds", self.flap_window_seconds, 1),
                ("max_alerts_per_batch", self.max_alerts_per_batch, 1),
            )
            if value < least
        ]
        if not self.ci_labels or not all(label.strip() for label in self.ci_labels):
            problems.append("ingest.ci_labels must name at least one label, none of them empty")
        if problems:
            raise InvalidInput(problems[0], details=problems)


@dataclass(frozen=True, slots=True)
class Settings:
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
