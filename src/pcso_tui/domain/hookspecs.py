"""The domain's extension points (pluggy hook specifications).

The domain defines these and calls them, always through the typed facade in
``domain/core/extensions.py`` (``domain.extensions``); ``pcso_tui.plugins`` implements the built-ins,
and third-party packages add theirs through the ``pcso_tui`` entry-point group (docs/plugins.md).

Every hook is synchronous and cheap: pluggy does not await. A hook whose work needs I/O returns
objects with async methods (a channel's ``send_batch``, a publisher's ``publish``), and the domain
awaits those in one place (the facade and the delivery worker). Hooks that return lists are
called on every plugin; each plugin answers with what it adds. ``tests/test_plugins.py`` fails
when a hook here has no test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pcso_tui.domain.casework.views import ProactiveCaseFacts
    from pcso_tui.domain.core.channels import NotificationChannel, StatusPagePublisher
    from pcso_tui.domain.core.settings import PluginSection, Settings
    from pcso_tui.domain.operations.alert_formats import AlertFormat

PROJECT = "pcso_tui"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- configuration (pcso_tui/config.py reads these) ------------------------------------------


@hookspec
def pcso_config_sections() -> list[PluginSection]:
    """The config sections this plugin reads: ``[plugins.NAME]`` tables of the config file.

    Each :class:`~pcso_tui.domain.core.settings.PluginSection` names its table and the frozen
    dataclass that holds it; the config loader builds it exactly like a built-in section (an
    unknown key, a value of the wrong type or a ``ValueError`` from ``__post_init__`` is a
    one-line error naming the key). The built value is ``settings.plugins[NAME]`` (its defaults
    when the file has no such table). A ``[plugins.NAME]`` no plugin declares is an error.
    """


# --- alerts in (domain/operations/alert_formats.py calls these) ------------------------------


@hookspec
def pcso_alert_formats(settings: Settings) -> list[AlertFormat]:
    """The alert formats this plugin reads (see ``AlertFormat`` in ``alert_formats.py``).

    A format claims a JSON document by its shape, serves the receiver paths and content types it
    names, and parses a document into ``AlertInput`` values, adding every problem to the shared
    ``Problems`` so that a refused batch names them all. Documents go to the first format that
    claims them, in hook order: a catch-all format registers ``trylast=True``. Called whenever a
    payload is parsed and when the receiver starts (it routes every path a format names).
    """


# --- workflow rules (domain/casework/major_cases.py calls these) -----------------------------


@hookspec(firstresult=True)
def pcso_workflow_proactive_case_opened(facts: ProactiveCaseFacts, settings: Settings) -> str | None:
    """Decide what happens to a proactive case that just opened (DESIGN §2 step 5).

    Return ``"none"``, ``"propose"`` (propose it as a major case) or ``"accept"`` (propose and
    approve it at once), optionally followed by ``": "`` and the reason to record, e.g.
    ``"propose: 3 gold accounts"``; or None to leave the decision to the next rule. The first
    answer wins: register with ``tryfirst=True`` to replace the built-in rule. Called inside the
    transaction that opens the case, so a rule that raises leaves no case behind.
    """


# --- notices and the status page -------------------------------------------------------------


@hookspec
def pcso_notification_channels(settings: Settings) -> list[NotificationChannel]:
    """The notification channels this plugin provides (see ``domain/core/channels.py``).

    A channel has a ``name`` (what ``contact.preferred_channel`` holds: the importer accepts
    exactly the registered names), optionally the contact field it needs (``address_field``:
    ``email``, ``phone`` or ``webhook_url``) and ``check_address(value)`` (why an address is
    unusable, or None: the importer refuses such a row), and the async ``open``/``send_batch``/
    ``close`` the delivery worker awaits. Its settings come from its own ``[plugins.NAME]``
    section. Called when a delivery worker starts and when contacts are imported. When two
    plugins offer a channel of the same name, the one registered last wins (a third-party plugin
    can replace a built-in).
    """


@hookspec
def pcso_status_page_publishers(settings: Settings) -> list[StatusPagePublisher]:
    """Where the public status page goes (see ``StatusPagePublisher``); [] when not configured.

    Each publisher's async ``publish(data)`` gets customer-facing fields only, whenever a
    statement, outage or resolution changes what the page shows. The built-in one writes static
    files into ``[delivery] status_page_dir``.
    """
