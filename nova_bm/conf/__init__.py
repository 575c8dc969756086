"""Every oslo.config option of nova-bm, registered on Nova's CONF.

Importing this package registers the ``[baremetal]`` and
``[baremetal_database]`` groups on ``nova.conf.CONF`` (which is oslo.config's
global ``cfg.CONF``), so a nova.conf read by nova-compute and by
``nova-bm-manage`` configures both. Nova's own options, ``state_path`` among
them, are registered too, because our defaults interpolate them.
"""

import nova.conf

from nova_bm.conf import baremetal
from nova_bm.conf import database

CONF = nova.conf.CONF


def register_opts(conf):
    baremetal.register_opts(conf)
    database.register_opts(conf)


register_opts(CONF)
