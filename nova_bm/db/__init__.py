"""The node database. ``nova_bm.db.api`` is the only module that queries it."""
