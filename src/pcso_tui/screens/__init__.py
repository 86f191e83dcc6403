"""Screens: one module per mode (role) plus dialogs.

``modes`` says which role lands where and who may open what; ``base.ModeScreen`` is the
shared frame (header, footer, live feed, palette); ``operator``, ``agent``, ``manager``,
``portal`` and ``dashboard`` hold each mode's body. ``connecting`` is the first frame while
the database opens; ``help`` lists every key.
"""
