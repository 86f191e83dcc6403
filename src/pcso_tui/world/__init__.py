"""The synthetic demo world and its outage simulation: not part of the product's path. The
domain never imports it; the demo, ``pcso seed`` and the tests do.

Kept free of imports so that this package's ``views`` load without the database stack.
"""
