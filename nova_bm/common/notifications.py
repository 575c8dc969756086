"""Notifications of node events, on Nova's message bus.

An oslo.messaging Notifier with publisher ``nova-bm:<host>``, on the
notification transport of the nova.conf the process reads (``[DEFAULT]
transport_url``, or ``[oslo_messaging_notifications] transport_url``), with
that file's notification ``driver`` and ``topics``, as every OpenStack
service does: with no driver configured nothing is sent. Callers may rely
on:

* one notification per event and node, with a payload built from
  :data:`PAYLOAD_FIELDS` only: never the IPMI user name or password;
* sending never raises: a bus that does not answer costs a log line
  (oslo.messaging's), not the operation that caused the event.
"""

from oslo_log import log as logging
import oslo_messaging

from nova_bm.conf import CONF

LOG = logging.getLogger(__name__)

PUBLISHER = 'nova-bm:%s'

POWER_STATE_CHANGED = 'nova_bm.node.power_state.update'
MAINTENANCE_ON = 'nova_bm.node.maintenance.set'
MAINTENANCE_OFF = 'nova_bm.node.maintenance.unset'
BMC_FAILING = 'nova_bm.node.bmc.failing'
BMC_RECOVERED = 'nova_bm.node.bmc.recovered'
CLAIMED = 'nova_bm.node.claim'
RELEASED = 'nova_bm.node.release'
ENROLLED = 'nova_bm.node.create'
DELETED = 'nova_bm.node.delete'

#: Every event type, for consumers and tests.
EVENT_TYPES = (POWER_STATE_CHANGED, MAINTENANCE_ON, MAINTENANCE_OFF,
               BMC_FAILING, BMC_RECOVERED, CLAIMED, RELEASED, ENROLLED,
               DELETED)

_WARNINGS = frozenset([BMC_FAILING])

#: What a payload may carry about a node. Credentials are not among them.
PAYLOAD_FIELDS = ('uuid', 'name', 'service_host', 'partition_key',
                  'resource_class', 'cpus', 'memory_mb', 'local_gb',
                  'cpu_arch', 'ipmi_address', 'ipmi_port', 'instance_uuid',
                  'power_state', 'maintenance', 'maintenance_reason',
                  'last_error')


def payload(node, **extra):
    """The payload for ``node`` (a row or a dict of columns)."""
    get = node.get if isinstance(node, dict) else (
        lambda field: getattr(node, field, None))
    body = {field: get(field) for field in PAYLOAD_FIELDS}
    body.update(extra)
    return body


class Notifier:
    """Sends node events as ``nova-bm:<host>``."""

    def __init__(self, host, transport=None):
        self.publisher_id = PUBLISHER % host
        try:
            transport = (transport or
                         oslo_messaging.get_notification_transport(CONF))
        except (oslo_messaging.MessagingException, ValueError) as e:
            LOG.warning('Node notifications are off: %s', e)
            self._notifier = None
            return
        self._notifier = oslo_messaging.Notifier(
            transport, publisher_id=self.publisher_id, retry=0)
        drivers = transport.conf.oslo_messaging_notifications.driver
        self._enabled = bool(set(drivers) - {'noop'})

    @property
    def enabled(self):
        """False when nova.conf names no notification driver."""
        return self._notifier is not None and self._enabled

    def emit(self, event_type, node, **extra):
        """Send one event about one node."""
        self.emit_many(event_type, [node], **extra)

    def emit_many(self, event_type, nodes, **extra):
        """Send one event per node (no work at all when disabled)."""
        if not self.enabled:
            return
        send = (self._notifier.warn if event_type in _WARNINGS
                else self._notifier.info)
        for node in nodes:
            send({}, event_type, payload(node, **extra))
