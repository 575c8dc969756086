"""nova-bm on the local RabbitMQ: node-change fanout and notifications.

Nova's services run in-process on Nova's harness (its own in-memory bus);
the proxy's driver and ``nova-bm-manage`` (a real subprocess) talk over
the local RabbitMQ, as they do over Nova's transport in production: the
proxy reads ``[DEFAULT] transport_url`` when it starts. Under CI=true a
broker that does not answer fails these tests.
"""

import os
import subprocess
import sys
import time
import types

import fixtures
from nova.compute import power_state
import oslo_messaging
from oslo_utils import uuidutils

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.common import notifications
from tests import broker
from tests.functional.compute import base

MANAGE = os.path.join(os.path.dirname(sys.executable), 'nova-bm-manage')
UNREACHABLE = 'rabbit://guest:guest@127.0.0.1:1/'


class _Collector:
    def __init__(self):
        self.events = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.events.append((publisher_id, event_type, payload))

    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        self.events.append((publisher_id, event_type, payload))


class RabbitTestCase(base.BareMetalCloudTestCase):

    NODES = 4
    ENROLLED = 2

    def setUp(self):
        super().setUp()
        self.rabbit = broker.require(self)
        # A topic of this test's own: other test processes share the
        # broker.
        self.topic = 'nova_bm_test_%s' % uuidutils.generate_uuid()[:8]
        self.flags(transport_url=self.rabbit)
        self.flags(driver=['messagingv2'], topics=[self.topic],
                   group='oslo_messaging_notifications')
        self.collector = self.listen()
        self.start_proxy()
        self.driver = self.proxy.manager.driver
        # What the proxy's RPC endpoint hears, to tell our casts from those
        # of other test processes on the same broker.
        self.heard = []
        self.handled = []
        (endpoint,) = self.driver._proxy.events_endpoints()
        endpoint._on_change = self.hearing(endpoint._on_change)
        endpoint._on_power = self.hearing(endpoint._on_power)

    def hearing(self, handler):
        """``handler``, what it hears kept in ``self.heard``, then what it
        handled in ``self.handled``."""
        def record(uuids):
            self.heard.extend(uuids)
            handler(uuids)
            self.handled.extend(uuids)
        return record

    def listen(self):
        transport = oslo_messaging.get_notification_transport(
            CONF, url=self.rabbit)
        self.addCleanup(transport.cleanup)
        collector = _Collector()
        listener = oslo_messaging.get_notification_listener(
            transport, [oslo_messaging.Target(topic=self.topic)],
            [collector], executor='threading')
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)
        return collector

    def manage(self, *args, transport_url=None):
        """Run nova-bm-manage as an operator does; (status, out, err)."""
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\nhost = operator-box\n'
                    'transport_url = %s\n'
                    '[baremetal_database]\nconnection = %s\n'
                    '[oslo_messaging_notifications]\n'
                    'driver = messagingv2\ntopics = %s\n' % (
                        transport_url or self.rabbit,
                        CONF.baremetal_database.connection, self.topic))
        result = subprocess.run(
            [MANAGE, '--config-file', path] + list(args),
            capture_output=True, text=True, timeout=120)
        return result.returncode, result.stdout, result.stderr

    def create_args(self, index):
        return ['node', 'create', '--name', self.node_name(index),
                '--host', self.PROXY, '--cpus', '8', '--memory-mb', '16384',
                '--local-gb', '100', '--resource-class', base.RESOURCE_CLASS,
                '--ipmi-address', '127.0.0.1',
                '--ipmi-port', str(self.fleet.ports[index]),
                '--ipmi-username', self.fleet.username,
                '--ipmi-password', base.PASSWORD]

    def reported(self):
        """Nodes the running proxy reports, from its cache (no query)."""
        return {s['hypervisor_hostname']
                for s in self.driver.get_host_stats()}

    def wait_reported(self, name, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if name in self.reported():
                return True
            time.sleep(0.02)
        return False

    def events(self, count, seconds=10):
        deadline = time.monotonic() + seconds
        while (len(self.collector.events) < count
               and time.monotonic() < deadline):
            time.sleep(0.05)
        return list(self.collector.events)

    def test_enrolled_node_reported_within_2_seconds(self):
        self.assertEqual({'bm-00', 'bm-01'}, self.reported())
        status, out, err = self.manage(*self.create_args(2))
        self.assertEqual(0, status, err)
        self.assertIn('Told the proxies on the message bus (1 nodes).', err)
        started = time.monotonic()
        self.assertTrue(self.wait_reported('bm-02', 2.0),
                        'bm-02 not reported within 2 s')
        print('reported %.3f s after nova-bm-manage returned'
              % (time.monotonic() - started))
        # ... because the proxy heard nova-bm-manage's cast (no resource
        # cycle runs in this test, and power_sync_interval is 0).
        self.assertIn(db_api.get_node('bm-02').uuid, self.heard)

        # With the bus unreachable the command still works and says so
        # in one line; the proxy sees the node at its next cycle.
        status, out, err = self.manage(*self.create_args(3),
                                       transport_url=UNREACHABLE)
        self.assertEqual(0, status, err)
        self.assertIn('Proxies not told: the message bus did not take the '
                      'message', err)
        self.assertEqual(1, len(err.strip().splitlines()), err)
        uuid = db_api.get_node('bm-03').uuid
        time.sleep(1)
        self.assertNotIn(uuid, self.heard)
        self.driver.get_available_nodes()  # the next resource cycle
        self.assertIn('bm-03', self.reported())

    def test_power_change_by_the_cli_is_known_to_the_proxy_at_once(self):
        # nova-bm-manage's power commands tell the owning proxy, which
        # answers Nova with the new state at once, not after its next
        # sweep (power_sync_interval is 0 here: there is none).
        server = self.boot('powered')
        node = db_api.get_node(self.hypervisor_of(server))
        instance = types.SimpleNamespace(uuid=server['id'])
        self.assertEqual(power_state.RUNNING,
                         self.driver.get_info(instance).state)
        status, out, err = self.manage('node', 'power', 'off', node.name)
        self.assertEqual(0, status, err)
        self.assertIn('Told the proxies on the message bus (1 nodes).', err)
        deadline = time.monotonic() + 10
        while node.uuid not in self.handled and (
                time.monotonic() < deadline):
            time.sleep(0.02)
        self.assertIn(node.uuid, self.handled)
        self.assertEqual(power_state.SHUTDOWN,
                         self.driver.get_info(instance).state)

    def test_every_notification_without_credentials(self):
        expected = []

        def expect(publisher, event_type, node):
            expected.append(('nova-bm:' + publisher, event_type, node))

        status, _, err = self.manage(*self.create_args(2))
        self.assertEqual(0, status, err)
        expect('operator-box', notifications.ENROLLED, 'bm-02')
        for flag, event_type in (('--maintenance',
                                  notifications.MAINTENANCE_ON),
                                 ('--no-maintenance',
                                  notifications.MAINTENANCE_OFF)):
            status, _, err = self.manage('node', 'update', 'bm-02', flag)
            self.assertEqual(0, status, err)
            expect('operator-box', event_type, 'bm-02')

        server = self.boot('notified')
        node = self.hypervisor_of(server)
        expect(self.PROXY, notifications.CLAIMED, node)
        expect(self.PROXY, notifications.POWER_STATE_CHANGED, node)
        self._delete_server(server)
        expect(self.PROXY, notifications.POWER_STATE_CHANGED, node)
        expect(self.PROXY, notifications.RELEASED, node)

        # A BMC that stops answering, then answers again.
        port = db_api.get_node('bm-01').ipmi_port
        self.fleet.fleet.control(port, drop=True)
        self.driver.sync_power_states()
        expect(self.PROXY, notifications.BMC_FAILING, 'bm-01')
        self.fleet.fleet.control(port, drop=False)
        self.driver.sync_power_states()
        expect(self.PROXY, notifications.BMC_RECOVERED, 'bm-01')

        status, _, err = self.manage('node', 'delete', 'bm-02')
        self.assertEqual(0, status, err)
        expect('operator-box', notifications.DELETED, 'bm-02')

        received = self.events(len(expected))
        self.assertEqual(
            sorted(expected),
            sorted((publisher, event_type, payload['name'])
                   for publisher, event_type, payload in received))
        for _, event_type, payload in received:
            self.assertNotIn(base.PASSWORD, repr(payload), event_type)
            self.assertNotIn('ipmi_password', payload)
            self.assertNotIn('ipmi_username', payload)
        by_type = {event_type: payload
                   for _, event_type, payload in received}
        self.assertEqual(server['id'],
                         by_type[notifications.CLAIMED]['instance_uuid'])
        self.assertTrue(by_type[notifications.MAINTENANCE_ON]['maintenance'])
