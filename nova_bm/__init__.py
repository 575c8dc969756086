"""nova-bm: one nova-compute proxy for many bare-metal machines."""
