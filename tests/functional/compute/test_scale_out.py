"""Scale-out on real Nova: three proxies in hash_ring mode over one node DB.

Three nova-compute services load this driver with ``[baremetal]
ownership = hash_ring``; the node database is a fresh database on the
local MariaDB, then on the local PostgreSQL (a failure under CI=true when
either is missing); 30 nodes with real fake BMCs. Nova's API, conductor,
scheduler and placement are Nova's own, and so is the servicegroup answer
the proxies divide the nodes by.
"""

import collections
import datetime

import nova.conf
from nova import context as nova_context
from nova.db.main import api as nova_db
from nova import objects
from oslo_utils import timeutils

from nova_bm.db import api as db_api
from nova_bm.proxy import ownership
from tests import db_backends
from tests.functional.compute import base

PROXIES = ('proxy-a', 'proxy-b', 'proxy-c')


class MariaDBScaleOutTestCase(base.BareMetalCloudTestCase):

    BACKEND = 'mysql'
    NODES = 30
    # The nodes are enrolled naming a host that never runs: the proxies
    # take them by the ring.
    PROXY = 'enrolled-by-operator'

    def node_database_url(self, state):
        url, drop = db_backends.new_database(self.BACKEND)
        self.addCleanup(drop)
        return url

    def setUp(self):
        super().setUp()
        self.flags(ownership='hash_ring', group='baremetal')
        for host in PROXIES:
            self._start_compute(host)
        # Each proxy joins the ring as it starts; one more cycle each and
        # every proxy sees all three.
        self.cycle(PROXIES)

    def cycle(self, hosts):
        """One resource cycle (update_available_resource) of each host."""
        ctxt = nova_context.get_admin_context()
        for host in hosts:
            self.computes[host].manager.update_available_resource(ctxt)

    def owners(self):
        return {node.name: node.service_host for node in db_api.list_nodes()}

    def nova_compute_nodes(self):
        """hypervisor_hostname -> [hosts Nova has a compute node on]."""
        found = collections.defaultdict(list)
        ctxt = nova_context.get_admin_context()
        for cn in objects.ComputeNodeList.get_all(ctxt):
            found[cn.hypervisor_hostname].append(cn.host)
        return found

    def reported_by(self, hosts):
        """node name -> [proxies whose driver reports it to Nova]."""
        found = collections.defaultdict(list)
        for host in hosts:
            for stats in self.computes[host].manager.driver.get_host_stats():
                found[stats['hypervisor_hostname']].append(host)
        return found

    def assert_one_owner_each(self, live):
        """Every free node is with its ring owner among ``live``; every
        node is reported by one proxy and is one compute node in Nova,
        on the proxy that owns it in the node DB."""
        ring = ownership.Ring(live)
        nodes = db_api.list_nodes()
        self.assertEqual(self.NODES, len(nodes))
        for node in nodes:
            if node.instance_uuid is None:
                self.assertEqual(ring.owner(node.uuid), node.service_host,
                                 node.name)
        owners = self.owners()
        reported = self.reported_by(live)
        computes = self.nova_compute_nodes()
        for name, owner in owners.items():
            if owner in live:
                self.assertEqual([owner], reported[name], name)
            else:
                self.assertNotIn(name, reported)
            self.assertEqual([owner], computes[name], name)

    def stop_and_mark_down(self, host):
        """Stop a proxy; its heartbeat then ages past service_down_time,
        which is how Nova's servicegroup API decides a service is down
        (set here instead of waiting a minute)."""
        self.computes[host].stop()
        ctxt = nova_context.get_admin_context()
        service = objects.Service.get_by_compute_host(ctxt, host)
        long_ago = timeutils.utcnow() - datetime.timedelta(
            seconds=2 * nova.conf.CONF.service_down_time)
        nova_db.service_update(ctxt, service.id,
                               {'last_seen_up': long_ago})
        (shown,) = self.admin_api.get_services(binary='nova-compute',
                                               host=host)
        self.assertEqual('down', shown['state'])

    def test_every_node_one_owner_and_30_concurrent_boots(self):
        self.assert_one_owner_each(PROXIES)
        shares = collections.Counter(self.owners().values())
        self.assertEqual(set(PROXIES), set(shares))

        # One request for 30 servers: the conductor builds them at once,
        # spread by the scheduler over the three proxies, which claim
        # their nodes concurrently. (Thirty separate API requests at once
        # deadlock the lock of Nova's cell-database test fixture in native
        # threading mode before any reaches a proxy.)
        body = self._build_server(name='many', flavor_id=self.flavor,
                                  networks='none')
        body['min_count'] = body['max_count'] = self.NODES
        self.api.post_server({'server': body})
        servers = self.settle([s for s in self.api.get_servers()
                               if s['name'].startswith('many')],
                              timeout=300)
        self.assertEqual(self.NODES, len(servers))
        self.assertEqual(['ACTIVE'] * self.NODES,
                         [s['status'] for s in servers],
                         [s.get('fault') for s in servers])
        hypervisors = [self.hypervisor_of(s) for s in servers]
        self.assertEqual(self.NODES, len(set(hypervisors)))
        by_instance = {n.instance_uuid: n for n in db_api.list_nodes()}
        self.assertEqual({s['id'] for s in servers}, set(by_instance))
        for server in servers:
            node = by_instance[server['id']]
            self.assertEqual(node.name, self.hypervisor_of(server))
            self.assertEqual(node.service_host,
                             server['OS-EXT-SRV-ATTR:host'])
            self.assertEqual('on', self.bmc(node.name)['power'])
        # Spread over the three, as the ring spread the nodes.
        self.assertEqual(set(PROXIES), {s['OS-EXT-SRV-ATTR:host']
                                        for s in servers})

    def test_failover_within_one_cycle_instances_stay(self):
        first = self.settle(self.post_servers(3, prefix='before'))
        self.assertEqual(['ACTIVE'] * 3, [s['status'] for s in first])
        victim = first[0]['OS-EXT-SRV-ATTR:host']
        survivors = tuple(h for h in PROXIES if h != victim)
        held = {n.name for n in db_api.list_nodes(service_host=victim)
                if n.instance_uuid}
        free = {n.name for n in db_api.list_nodes(service_host=victim)
                if not n.instance_uuid}
        self.assertTrue(held)
        self.assertTrue(free)

        self.stop_and_mark_down(victim)
        self.cycle(survivors)  # one resource cycle of each survivor

        owners = self.owners()
        for name in free:
            self.assertIn(owners[name], survivors, name)
        for name in held:
            self.assertEqual(victim, owners[name], name)
        self.assert_one_owner_each(survivors)
        self.assertEqual(sorted(held), sorted(
            n.name for n in db_api.list_orphaned(survivors)))

        # Servers keep booting, on the survivors' nodes.
        later = self.settle(self.post_servers(3, prefix='after'))
        self.assertEqual(['ACTIVE'] * 3, [s['status'] for s in later],
                         [s.get('fault') for s in later])
        for server in later:
            self.assertIn(server['OS-EXT-SRV-ATTR:host'], survivors)
        self.assertEqual(6, len({self.hypervisor_of(s)
                                 for s in first + later}))


class PostgreSQLScaleOutTestCase(MariaDBScaleOutTestCase):
    BACKEND = 'postgresql'
