"""Every oslo.config option of nova-bm, registered on Nova's CONF.

Importing this package registers the ``[baremetal]`` and
``[baremetal_database]`` groups on ``nova.conf.CONF`` (which is oslo.config's
global ``cfg.CONF``), so a nova.conf read by nova-compute and by
``nova-bm-manage`` configures both. Nova's own options, ``state_path`` among
them, are registered too, because our defaults interpolate them.
"""

import warnings

import nova.conf

with warnings.catch_warnings():
    # oslo.messaging imports oslo.service's eventlet backend, which warns
    # that eventlet is deprecated on import: a line on every nova-bm-manage
    # run that is about a library, not about what the operator asked.
    warnings.simplefilter('ignore')
    import oslo_messaging
    from oslo_messaging import opts as messaging_opts

from nova_bm.conf import baremetal
from nova_bm.conf import database

CONF = nova.conf.CONF


def register_opts(conf):
    baremetal.register_opts(conf)
    database.register_opts(conf)
    # Nova's message bus options ([DEFAULT] transport_url,
    # [oslo_messaging_notifications], [oslo_messaging_rabbit]), with Nova's
    # exchange, as nova.rpc sets them in Nova's services: nova-bm-manage
    # must reach the proxies and notify on the same exchange.
    oslo_messaging.set_transport_defaults(control_exchange='nova')
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)


register_opts(CONF)
