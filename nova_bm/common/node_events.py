"""Tell the running proxies that nodes changed, over Nova's message bus.

``nova-bm-manage`` casts ``nodes_changed`` with fanout on topic
:data:`TOPIC` after it created, imported, updated or deleted nodes; every
proxy listens on that topic (an RPC server the driver starts) and reloads
its nodes at once (in hash_ring mode taking its share first), instead of
at its next resource cycle. The transport is the one nova.conf's
``[DEFAULT] transport_url`` names, Nova's own bus. Callers may rely on:

* a cast never waits for a proxy and never retries: a bus that does not
  answer is :class:`BusUnavailable` with one line saying why, and the
  proxies then see the change at their next resource cycle;
* the message carries node UUIDs only;
* ``power_states_read`` (after nova-bm-manage's power commands) makes the
  owning proxy take the power states the command stored, so that it
  answers Nova with them at once.
"""

from oslo_log import log as logging
import oslo_messaging

from nova_bm.conf import CONF

LOG = logging.getLogger(__name__)

TOPIC = 'nova-bm'
#: 1.1: power_states_read.
VERSION = '1.1'
NAMESPACE = 'nova_bm.node_events'


class BusUnavailable(Exception):
    """The message bus could not take the message."""


def transport():
    """An RPC transport for nova.conf's ``transport_url``."""
    return oslo_messaging.get_rpc_transport(CONF)


class NodeEventsClient:
    """What ``nova-bm-manage`` uses to tell every proxy."""

    def __init__(self, rpc_transport=None):
        self._transport = rpc_transport or transport()
        self._client = oslo_messaging.get_rpc_client(
            self._transport,
            oslo_messaging.Target(topic=TOPIC, namespace=NAMESPACE,
                                  version='1.0'),
            retry=0)

    def nodes_changed(self, uuids):
        """Fanout cast to every proxy: ``uuids`` were enrolled, changed
        or deleted.

        :raises: BusUnavailable
        """
        self._cast('nodes_changed', uuids, '1.0')

    def power_states_read(self, uuids):
        """Fanout cast: nova-bm-manage read ``uuids``' power states from
        their BMCs and stored them; the owning proxy takes them at once (a
        proxy of version 1.0 drops the message and sees them at its next
        sweep).

        :raises: BusUnavailable
        """
        self._cast('power_states_read', uuids, '1.1')

    def _cast(self, method, uuids, version):
        try:
            self._client.prepare(fanout=True, version=version).cast(
                {}, method, uuids=list(uuids))
        except oslo_messaging.MessagingException as e:
            raise BusUnavailable(' '.join(str(e).split()) or
                                 type(e).__name__) from None

    def close(self):
        self._transport.cleanup()


class NodeEventsEndpoint:
    """The proxy's side: ``on_change(uuids)`` is called for each cast."""

    target = oslo_messaging.Target(namespace=NAMESPACE, version=VERSION)

    def __init__(self, on_change, on_power=None):
        self._on_change = on_change
        self._on_power = on_power or on_change

    def nodes_changed(self, ctxt, uuids):
        LOG.info('%d nodes changed (nova-bm-manage): reloading the nodes',
                 len(uuids))
        self._on_change(uuids)


    def power_states_read(self, ctxt, uuids):
        LOG.info('%d nodes powered or read by nova-bm-manage: taking their '
                 'power states', len(uuids))
        self._on_power(uuids)


def start_server(host, on_change, executor, rpc_transport=None,
                 on_power=None):
    """Listen on topic ``nova-bm`` as ``host``; returns the server.
    ``on_power(uuids)`` hears ``power_states_read`` (default
    ``on_change``)."""
    server = oslo_messaging.get_rpc_server(
        rpc_transport or transport(),
        oslo_messaging.Target(topic=TOPIC, server=host),
        [NodeEventsEndpoint(on_change, on_power)], executor=executor,
        access_policy=oslo_messaging.DefaultRPCAccessPolicy)
    server.start()
    return server
