"""The ground floor: database, schema and migrations, the unit of work and its events, the live
feed, roles, errors, settings, states, text safety, users and the audit log.

Kept free of imports so that this package's ``views`` load without the database stack.
"""
