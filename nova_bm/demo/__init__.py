"""The all-in-one demo behind ``nova-bm-demo``."""
