"""The node database. Callers use ``nova_bm.db.api`` only: it re-exports
what the modules here that query it offer."""
