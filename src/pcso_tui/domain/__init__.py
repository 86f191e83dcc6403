"""The product without a screen: models, commands, queries, events and rules.

Never imports textual, rich or anything above it (a test enforces it). Kept free of imports
here so that ``pcso_tui.domain.core.views`` can be loaded without the database stack.
"""
