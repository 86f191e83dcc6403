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
