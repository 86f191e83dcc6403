"""What customers hear: outages and the status page, articles, notices and their delivery,
and the notification channel contract.

Kept free of imports so that this package's ``views`` load without the database stack.
"""
