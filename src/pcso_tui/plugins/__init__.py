"""Built-in plugins, registered through the same manager as third-party ones.

Third-party packages register under the ``pcso_tui`` entry-point group (docs/plugins.md).
"""

from __future__ import annotations

from functools import cache

import pluggy

from pcso_tui.domain import hookspecs

ENTRY_POINT_GROUP = "pcso_tui"


def builtin_plugins() -> list[object]:
    """The plugins that ship with pcso (each a module or object with hook implementations)."""
    from pcso_tui.plugins import channels, statuspage, workflow
    from pcso_tui.plugins.alert_formats import alertmanager, generic

    return [alertmanager, generic, channels, statuspage, workflow]


def new_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for plugin in builtin_plugins():
        pm.register(plugin)
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()
    return pm


@cache
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager: built-ins plus installed third-party plugins."""
    return new_plugin_manager()
