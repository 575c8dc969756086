"""Hash-ring ownership through the node database, on every backend.

Nova's servicegroup answer is scripted here (the functional tests run
Nova's own); the node database, its conditional UPDATEs and the ring are
real.
"""

import collections
import datetime
import threading

from oslo_utils import timeutils
from oslo_utils import uuidutils

from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.proxy import ownership
from nova_bm.proxy import rebalance
from tests.unit.db import base
from tests import utils

PROXIES = ('proxy-a', 'proxy-b', 'proxy-c')


class ScriptedServices:
    """Nova's view of the compute services: up, and enabled."""

    def __init__(self, up=PROXIES, disabled=()):
        self.set(up, disabled)

    def set(self, up, disabled=()):
        self._up = set(up)
        self._disabled = set(disabled)

    def up(self):
        return set(self._up), self._up - self._disabled


class RebalanceTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.services = ScriptedServices()

    def enrol(self, count, start=1, **overrides):
        overrides.setdefault('service_host', 'enrolling-host')
        db_api.create_nodes([
            utils.node_spec_for(i, macs=[], **overrides)
            for i in range(start, start + count)])

    def proxy(self, host, mode=rebalance.HASH_RING, partition_key=None):
        return rebalance.Rebalancer(host, mode, partition_key,
                                    services=self.services)

    def cycle(self, *proxies):
        """Each proxy reports itself, then each takes its share."""
        for proxy in proxies:
            db_api.record_proxy(proxy.host, proxy.partition_key, proxy.mode,
                                timeutils.utcnow())
        return [proxy.run() for proxy in proxies]

    def owners(self):
        return {n.name: n.service_host for n in db_api.list_nodes()}

    def test_nodes_spread_over_the_ring_one_owner_each(self):
        self.enrol(30)
        proxies = [self.proxy(h) for h in PROXIES]
        self.assertEqual(30, sum(self.cycle(*proxies)))
        owners = self.owners()
        self.assertEqual(30, len(owners))
        ring = ownership.Ring(PROXIES)
        for node in db_api.list_nodes():
            self.assertEqual(ring.owner(node.uuid), node.service_host)
        self.assertEqual(set(PROXIES), set(owners.values()))
        # A second cycle moves nothing: the views agree.
        self.assertEqual([0, 0, 0], self.cycle(*proxies))

    def test_a_proxy_going_down_loses_its_free_nodes_only(self):
        self.enrol(30)
        proxies = [self.proxy(h) for h in PROXIES]
        self.cycle(*proxies)
        lost = [n for n in db_api.list_nodes(service_host='proxy-c')]
        held, free = lost[0], lost[1:]
        db_api.claim_node(held.uuid, uuidutils.generate_uuid())

        self.services.set(up=PROXIES[:2])
        self.cycle(*proxies[:2])  # one cycle of the survivors

        owners = self.owners()
        self.assertEqual('proxy-c', owners[held.name])
        ring = ownership.Ring(PROXIES[:2])
        for node in free:
            self.assertEqual(ring.owner(node.uuid), owners[node.name])
        self.assertEqual([held.name],
                         [n.name for n in db_api.list_orphaned(PROXIES[:2])])

        # It comes back: it takes back its share of the free nodes.
        self.services.set(up=PROXIES)
        self.cycle(*proxies)
        ring = ownership.Ring(PROXIES)
        for node in db_api.list_nodes():
            if node.instance_uuid is None:
                self.assertEqual(ring.owner(node.uuid), node.service_host)
        self.assertEqual([], db_api.list_orphaned(PROXIES))

    def test_disabled_proxy_drains_but_keeps_its_instances(self):
        self.enrol(30)
        proxies = [self.proxy(h) for h in PROXIES]
        self.cycle(*proxies)
        held = db_api.list_nodes(service_host='proxy-b')[0]
        db_api.claim_node(held.uuid, uuidutils.generate_uuid())
        self.services.set(up=PROXIES, disabled=['proxy-b'])
        self.cycle(*proxies)
        self.assertEqual([held.name], [
            n.name for n in db_api.list_nodes(service_host='proxy-b')])
        # proxy-b, still running, does not pull its share back.
        self.assertEqual([0, 0, 0], self.cycle(*proxies))

    def test_running_static_proxy_keeps_its_nodes(self):
        self.enrol(10, service_host='static-1')
        self.enrol(10, start=11, service_host='gone-1')
        self.services.set(up=PROXIES + ('static-1',))
        static = self.proxy('static-1', mode=rebalance.STATIC)
        moved = self.cycle(static, *[self.proxy(h) for h in PROXIES])
        self.assertEqual((0, 10), (moved[0], sum(moved)))
        owners = collections.Counter(self.owners().values())
        self.assertEqual(10, owners['static-1'])
        self.assertNotIn('gone-1', owners)
        # Stopped: its free nodes go to the ring too.
        self.services.set(up=PROXIES)
        self.cycle(*[self.proxy(h) for h in PROXIES])
        self.assertNotIn('static-1', self.owners().values())

    def test_partition_key_limits_the_ring_and_the_nodes(self):
        self.enrol(10, partition_key='rack-1')
        self.enrol(10, start=11)
        rack = [self.proxy(h, partition_key='rack-1') for h in PROXIES[:2]]
        other = self.proxy('proxy-c')
        self.cycle(other, *rack)
        for node in db_api.list_nodes():
            if node.partition_key == 'rack-1':
                self.assertIn(node.service_host, PROXIES[:2])
            else:
                self.assertEqual('proxy-c', node.service_host)

    def test_racing_proxies_never_both_take_a_node(self):
        # Two proxies with different views (b has not seen c yet) run at
        # once over and over: every move is conditional on the owner it
        # read, so each node ends with one owner and no move is lost.
        self.enrol(60)
        self.services.set(up=PROXIES)
        for host in PROXIES:
            db_api.record_proxy(host, None, rebalance.HASH_RING,
                                timeutils.utcnow())
        barrier = threading.Barrier(3)
        errors = []

        def run(proxy):
            try:
                barrier.wait()
                for _ in range(5):
                    proxy.run()
            except Exception as e:  # recorded, so the test names it
                errors.append(repr(e))

        threads = [threading.Thread(target=run, args=(self.proxy(h),))
                   for h in PROXIES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertEqual([], errors)
        ring = ownership.Ring(PROXIES)
        for node in db_api.list_nodes():
            self.assertEqual(ring.owner(node.uuid), node.service_host)

    def test_move_is_conditional_on_owner_and_no_instance(self):
        self.enrol(3, service_host='proxy-a')
        n1, n2, n3 = db_api.list_nodes()
        db_api.claim_node(n3.uuid, uuidutils.generate_uuid())
        moved = db_api.move_nodes({
            n1.uuid: ('proxy-a', 'proxy-b'),   # moves
            n2.uuid: ('proxy-x', 'proxy-b'),   # stale owner: stays
            n3.uuid: ('proxy-a', 'proxy-b'),   # held: stays
        })
        self.assertEqual(1, moved)
        self.assertEqual({'node-1': 'proxy-b', 'node-2': 'proxy-a',
                          'node-3': 'proxy-a'}, self.owners())

    def test_node_being_cleaned_moves_only_from_a_proxy_that_is_down(self):
        self.enrol(2, service_host='proxy-a')
        n1, n2 = db_api.list_nodes()
        for node in (n1, n2):
            db_api.set_provision_state(node.uuid, db_api.CLEANING)
        # proxy-a is alive: it finishes its cleanings.
        self.assertEqual(0, db_api.move_nodes(
            {n1.uuid: ('proxy-a', 'proxy-b')}))
        # proxy-a is down: the new owner cleans again.
        self.assertEqual(1, db_api.move_nodes(
            {n1.uuid: ('proxy-a', 'proxy-b')}, busy_from={'proxy-a'}))
        self.assertEqual({'node-1': 'proxy-b', 'node-2': 'proxy-a'},
                         self.owners())
        ring = ownership.Ring(['proxy-b'])
        nodes = db_api.list_nodes()
        self.assertEqual({}, ownership.takeovers(
            'proxy-b', nodes, ring, lambda owner: True,
            lambda owner: False))
        self.assertEqual({n2.uuid: ('proxy-a', 'proxy-b')},
                         ownership.takeovers('proxy-b', nodes, ring,
                                             lambda owner: True))

    def test_old_owner_cannot_claim_a_moved_node(self):
        self.enrol(1, service_host='proxy-a')
        (node,) = db_api.list_nodes()
        db_api.move_nodes({node.uuid: ('proxy-a', 'proxy-b')})
        error = self.assertRaises(
            exception.NodeNotAvailable, db_api.claim_node, node.uuid,
            uuidutils.generate_uuid(), service_host='proxy-a')
        self.assertIn('now managed by proxy proxy-b', str(error))
        self.assertIsNone(db_api.get_node(node.uuid).instance_uuid)
        db_api.claim_node(node.uuid, uuidutils.generate_uuid(),
                          service_host='proxy-b')

    def test_static_mode_only_reports_itself(self):
        self.enrol(3, service_host='gone')
        proxy = self.proxy('proxy-a', mode=rebalance.STATIC)
        self.assertEqual(0, proxy.run())
        self.assertEqual({'gone'}, set(self.owners().values()))
        (row,) = db_api.list_proxies()
        self.assertEqual(('proxy-a', 'static', None),
                         (row.host, row.ownership, row.partition_key))

    def test_record_proxy_updates_one_row(self):
        then = timeutils.utcnow() - datetime.timedelta(minutes=5)
        db_api.record_proxy('proxy-a', None, 'static', then)
        now = timeutils.utcnow()
        db_api.record_proxy('proxy-a', 'rack-1', 'hash_ring', now)
        (row,) = db_api.list_proxies()
        self.assertEqual(('rack-1', 'hash_ring'),
                         (row.partition_key, row.ownership))
        self.assertGreater(row.seen_at, then)
