"""Schema migrations (Alembic), shipped inside the package.

``HEAD`` names the newest revision so that start-up can see "already current" with one query
and without importing Alembic (half a second); a test keeps it equal to Alembic's own head.
"""

HEAD = "0009_user_keys"
