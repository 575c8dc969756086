"""Commands of ``nova-bm-manage``, one module per command group."""
