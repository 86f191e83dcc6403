"""Who owns what: accounts, contacts, products, configuration items, install base items, the
importer, and impact (which customers an incident touches).

Kept free of imports so that this package's ``views`` load without the database stack.
"""
