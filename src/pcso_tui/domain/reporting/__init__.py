"""The dashboard: how proactive the team was.

Kept free of imports so that this package's ``views`` load without the database stack.
"""
