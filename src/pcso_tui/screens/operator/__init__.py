"""The NOC operator's screen (``screen.OperatorScreen``) and its four views, one widget each."""

from pcso_tui.screens.operator.alerts import AlertsView, alert_content
from pcso_tui.screens.operator.feed import FeedView
from pcso_tui.screens.operator.impact import ImpactPanel
from pcso_tui.screens.operator.incidents import IncidentsView, detail_content
from pcso_tui.screens.operator.screen import OperatorScreen
from pcso_tui.widgets.alert_table import format_age

__all__ = [
    "AlertsView",
    "FeedView",
    "ImpactPanel",
    "IncidentsView",
    "OperatorScreen",
    "alert_content",
    "detail_content",
    "format_age",
]
