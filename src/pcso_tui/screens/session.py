"""Who is signed in to which database: what the App hands every mode screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcso_tui.domain.core.roles import Actor
from pcso_tui.domain.core.views import UserView

if TYPE_CHECKING:
    from pcso_tui.domain.core.service import Domain


@dataclass(frozen=True)
class WorkspaceSession:
    """Who is signed in to which database."""

    domain: Domain
    actor: Actor
    user: UserView | None
    demo: bool
    database: str  # a label for the header (no password)

    @property
    def user_label(self) -> str:
        name = self.user.display_name if self.user and self.user.display_name else self.actor.name
        if self.actor.impersonator:
            return f"{name} (via {self.actor.impersonator})"
        return name
