"""Reusable Textual pieces every screen builds on.

- ``cells``: untrusted values made into safe table cells; severity as glyph + word + colour.
- ``safe_table.SafeTable``: a DataTable updated by row key, bounded, never cleared.
- ``feed``: the ``EventsArrived`` message that carries the live event feed.
- ``event_ticker.EventTicker``: the last events, newest first.
- ``header.WorkspaceHeader``: product, user, role, database and whether the feed is live.
- ``themes``: theme files (TOML) → ``textual.theme.Theme``.
- ``palette``: the one command-palette provider; screens contribute ``PaletteCommand``s.

Nothing here imports the database stack: screens load these before the first frame.
"""
