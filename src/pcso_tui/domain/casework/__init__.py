"""Cases, major cases and their workflow, the timeline, predictive insight and the customer's
view of their own cases (the portal).

Kept free of imports so that this package's ``views`` load without the database stack.
"""
