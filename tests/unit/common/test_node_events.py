"""Notifications and the node-change fanout on oslo.messaging's fake bus.

The same code runs against the local RabbitMQ in
tests/functional/test_messaging.py.
"""

import threading
import time

import oslo_messaging

from nova_bm.common import node_events
from nova_bm.common import notifications
from tests import base
from tests import utils


class Collector:
    """A notification listener endpoint that keeps what it hears."""

    def __init__(self):
        self.events = []

    def _keep(self, publisher_id, event_type, payload):
        self.events.append((publisher_id, event_type, payload))

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep(publisher_id, event_type, payload)

    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep(publisher_id, event_type, payload)


class MessagingTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(driver=['messagingv2'], topics=['notifications'],
                         group='oslo_messaging_notifications')
        self.transport = oslo_messaging.get_notification_transport(
            self.conf.conf)
        self.addCleanup(self.transport.cleanup)

    def listen(self):
        collector = Collector()
        listener = oslo_messaging.get_notification_listener(
            self.transport, [oslo_messaging.Target(topic='notifications')],
            [collector], executor='threading')
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)
        return collector

    def test_payload_never_carries_credentials(self):
        row, _ = utils.node_spec_for(1)
        body = notifications.payload(row, extra='x')
        self.assertNotIn('ipmi_password', body)
        self.assertNotIn('ipmi_username', body)
        self.assertNotIn(row['ipmi_password'], repr(body))
        self.assertEqual(('node-1', 'x'), (body['name'], body['extra']))

    def test_events_sent_with_publisher_and_type(self):
        collector = self.listen()
        row, _ = utils.node_spec_for(1)
        notifier = notifications.Notifier('proxy-1', self.transport)
        self.assertTrue(notifier.enabled)
        for event_type in notifications.EVENT_TYPES:
            notifier.emit(event_type, row)
        deadline = time.monotonic() + 10
        while (len(collector.events) < len(notifications.EVENT_TYPES)
               and time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(sorted(notifications.EVENT_TYPES),
                         sorted(e[1] for e in collector.events))
        self.assertEqual({'nova-bm:proxy-1'},
                         {e[0] for e in collector.events})
        for _, _, body in collector.events:
            self.assertNotIn(row['ipmi_password'], repr(body))

    def test_no_driver_no_work(self):
        self.conf.config(driver=[], group='oslo_messaging_notifications')
        notifier = notifications.Notifier('proxy-1', self.transport)
        self.assertFalse(notifier.enabled)
        notifier.emit(notifications.CLAIMED, {'name': 'n'})  # no error

    def test_fanout_reaches_every_proxy(self):
        rpc = oslo_messaging.get_rpc_transport(self.conf.conf)
        self.addCleanup(rpc.cleanup)
        heard = {'proxy-1': threading.Event(), 'proxy-2': threading.Event()}
        seen = {}
        servers = []
        for host, event in heard.items():
            def changed(uuids, host=host, event=event):
                seen[host] = uuids
                event.set()
            servers.append(node_events.start_server(
                host, changed, 'threading', rpc_transport=rpc))
        for server in servers:
            self.addCleanup(server.wait)
            self.addCleanup(server.stop)
        node_events.NodeEventsClient(rpc).nodes_changed(['u-1', 'u-2'])
        for event in heard.values():
            self.assertTrue(event.wait(10))
        self.assertEqual({'proxy-1': ['u-1', 'u-2'],
                          'proxy-2': ['u-1', 'u-2']}, seen)

    def test_power_states_read_goes_to_its_own_handler(self):
        # nova-bm-manage's power commands: the proxies take the states they
        # stored (on_power); other changes only reload (on_change), so a
        # node update never makes a proxy adopt a row older than what it
        # knows.
        rpc = oslo_messaging.get_rpc_transport(self.conf.conf)
        self.addCleanup(rpc.cleanup)
        calls = []
        done = threading.Event()

        def on_change(uuids):
            calls.append(('changed', uuids))
            done.set()

        def on_power(uuids):
            calls.append(('power', uuids))
            done.set()
        server = node_events.start_server('proxy-1', on_change, 'threading',
                                          rpc_transport=rpc,
                                          on_power=on_power)
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        client = node_events.NodeEventsClient(rpc)
        client.power_states_read(['u-1'])
        self.assertTrue(done.wait(10))
        done.clear()
        client.nodes_changed(['u-2'])
        self.assertTrue(done.wait(10))
        self.assertEqual([('power', ['u-1']), ('changed', ['u-2'])], calls)
