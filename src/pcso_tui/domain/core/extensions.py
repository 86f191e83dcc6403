"""``Extensions``: the one place the domain calls its hooks (``domain/hookspecs.py``).

A small typed facade over pluggy's hook relay, so the rest of the domain never spells a hook
name, never handles a plugin's ``None`` answer, and awaits plugin I/O here only::

    formats = domain.extensions.alert_formats()
    batch = parse_alerts(domain.extensions, body, format="alertmanager", max_alerts=500)
    channels = domain.extensions.channels()            # by name, last registered wins
    await domain.extensions.publish_status_page(data)  # every publisher, awaited here

Without a plugin manager (``hooks=None``) every answer is empty. Standard library only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcso_tui.domain.casework.views import ProactiveCaseFacts
    from pcso_tui.domain.communications.views import StatusPageData
    from pcso_tui.domain.core.channels import NotificationChannel, StatusPagePublisher
    from pcso_tui.domain.core.settings import PluginSection, Settings
    from pcso_tui.domain.operations.alert_formats import AlertFormat


def _flat(answers: Any) -> list[Any]:
    """One list from the answers of every plugin (pluggy's call order: last registered first)."""
    return [item for answer in answers or () for item in answer or ()]


class Extensions:
    def __init__(self, hooks: Any, settings: Settings) -> None:
        # pluggy's HookRelay (pm.hook), or None.
        self.hooks = hooks
        self.settings = settings

    # configuration -------------------------------------------------------------------------

    def config_sections(self) -> dict[str, PluginSection]:
        """The ``[plugins.NAME]`` sections the plugins declare, by name (first declared wins)."""
        if self.hooks is None:
            return {}
        sections: dict[str, PluginSection] = {}
        for section in _flat(self.hooks.pcso_config_sections()):
            sections.setdefault(section.name, section)
        return sections

    # alerts in -----------------------------------------------------------------------------

    def alert_formats(self) -> list[AlertFormat]:
        """Every registered alert format, in the order they get to claim a document."""
        if self.hooks is None:
            return []
        formats: list[AlertFormat] = []
        seen: set[str] = set()
        for found in _flat(self.hooks.pcso_alert_formats(settings=self.settings)):
            if found.name not in seen:  # a later-registered plugin replaces a format by name
                seen.add(found.name)
                formats.append(found)
        return formats

    # workflow ------------------------------------------------------------------------------

    def proactive_case_decision(self, facts: ProactiveCaseFacts) -> str | None:
        """The first workflow rule's answer for a proactive case that just opened, or None."""
        if self.hooks is None:
            return None
        answer = self.hooks.pcso_workflow_proactive_case_opened(facts=facts, settings=self.settings)
        return None if answer is None else str(answer)

    # notices and the status page -----------------------------------------------------------

    def channels(self) -> dict[str, NotificationChannel]:
        """The channels every plugin offers, by name (the last registered plugin wins)."""
        if self.hooks is None:
            return {}
        channels: dict[str, NotificationChannel] = {}
        # pluggy calls the most recently registered plugin first.
        for channel in _flat(self.hooks.pcso_notification_channels(settings=self.settings)):
            channels.setdefault(channel.name, channel)
        return channels

    def status_page_publishers(self) -> list[StatusPagePublisher]:
        if self.hooks is None:
            return []
        return _flat(self.hooks.pcso_status_page_publishers(settings=self.settings))

    async def publish_status_page(self, data: StatusPageData) -> int:
        """Hand the page to every publisher, one after the other; how many there were."""
        publishers = self.status_page_publishers()
        for publisher in publishers:
            await publisher.publish(data)
        return len(publishers)
