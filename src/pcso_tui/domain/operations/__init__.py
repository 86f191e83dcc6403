"""What the NOC watches: alert intake, health checks, correlation and incidents.

Kept free of imports so that this package's ``views`` load without the database stack.
"""
