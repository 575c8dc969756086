"""Entry point for oslo-config-generator (namespace ``nova_bm``)."""

from nova_bm.conf import baremetal
from nova_bm.conf import database

_MODULES = (baremetal, database)


def list_opts():
    """Return ``[(group, [opts])]`` for every nova-bm option group."""
    result = []
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            result.append((group, opts))
    return result
