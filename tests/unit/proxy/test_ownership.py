"""Consistent-hash ownership of nodes by proxies."""

import collections
import types

from oslo_utils import uuidutils
import testtools

from nova_bm.proxy import ownership

PROXIES = ['proxy-%02d' % i for i in range(10)]


def node(uuid=None, service_host=None, instance_uuid=None,
         provision_state='available'):
    return types.SimpleNamespace(uuid=uuid or uuidutils.generate_uuid(),
                                 service_host=service_host,
                                 instance_uuid=instance_uuid,
                                 provision_state=provision_state)


class RingTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.uuids = [uuidutils.generate_uuid() for _ in range(5000)]

    def test_every_node_has_exactly_one_owner_among_the_proxies(self):
        owners = ownership.Ring(PROXIES).owners(self.uuids)
        self.assertEqual(set(self.uuids), set(owners))
        self.assertLessEqual(set(owners.values()), set(PROXIES))
        shares = collections.Counter(owners.values())
        self.assertEqual(set(PROXIES), set(shares))
        # Even: no proxy far from 1/10 of the nodes.
        self.assertLess(max(shares.values()), 0.13 * len(self.uuids))
        self.assertGreater(min(shares.values()), 0.07 * len(self.uuids))

    def test_same_answer_on_every_proxy(self):
        # Each proxy builds its own ring; they must agree, whatever order
        # the service list came in.
        self.assertEqual(ownership.Ring(PROXIES).owners(self.uuids),
                         ownership.Ring(reversed(PROXIES)).owners(self.uuids))

    def test_losing_a_proxy_moves_only_its_nodes(self):
        before = ownership.Ring(PROXIES).owners(self.uuids)
        after = ownership.Ring(PROXIES[1:]).owners(self.uuids)
        moved = {u for u in self.uuids if before[u] != after[u]}
        self.assertEqual({u for u in self.uuids
                          if before[u] == PROXIES[0]}, moved)
        self.assertLess(ownership.moved_fraction(before, after), 0.12)

    def test_no_proxy_no_owner(self):
        self.assertIsNone(ownership.Ring([]).owner(self.uuids[0]))


class OwnedByTestCase(testtools.TestCase):

    def test_free_nodes_by_ring_claimed_nodes_stay_with_their_host(self):
        ring = ownership.Ring(['a', 'b'])
        free = [node() for _ in range(50)]
        held = node(service_host='a', instance_uuid='i-1')
        while ring.owner(held.uuid) != 'b':  # the ring says b; a keeps it
            held = node(service_host='a', instance_uuid='i-1')
        mine = ownership.owned_by('a', free + [held], ring)
        self.assertIn(held, mine)
        self.assertNotIn(held, ownership.owned_by('b', free + [held], ring))
        self.assertEqual(
            sorted(n.uuid for n in free),
            sorted(n.uuid for n in ownership.owned_by('a', free, ring)
                   + ownership.owned_by('b', free, ring)))
