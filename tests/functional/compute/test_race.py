"""Two servers allocated the same node: the node-database claim holds.

Placement 16 on MariaDB was seen to hand one node's single unit to two
servers booted at once (an allocation write retried after a generation
conflict inside one REPEATABLE READ transaction). Nova then sends both to
the same node. What must happen: the driver's conditional claim lets one
have it, the other's spawn fails with ComputeResourcesUnavailable, and
Nova reschedules it to one of the scheduler's alternates, a free node.

The placement fault cannot be provoked on demand, so the test makes its
effect: server A holds node X, A's allocation is removed from placement
(placement now believes X is free), and a weigher makes X the scheduler's
first choice for server B. Placement then allocates X's one unit to B
while A is on it: the state the fault leaves behind.
"""

from nova.scheduler import weights

from tests.functional.compute import base


class PreferNodeWeigher(weights.BaseHostWeigher):
    """Puts ``preferred`` first, whatever the other weighers say."""

    preferred = None

    def weight_multiplier(self, host_state):
        return 100.0

    def _weigh_object(self, host_state, weight_properties):
        return 1.0 if host_state.nodename == self.preferred else 0.0


class SameNodeAllocatedTwiceTestCase(base.BareMetalCloudTestCase):

    NODES = 3

    def setUp(self):
        self.flags(weight_classes=[
            'nova.scheduler.weights.all_weighers',
            '%s.%s' % (__name__, PreferNodeWeigher.__name__)],
            group='filter_scheduler')
        self.addCleanup(setattr, PreferNodeWeigher, 'preferred', None)
        super().setUp()

    def test_loser_of_the_claim_lands_on_another_free_node(self):
        self.start_proxy()
        driver = self.proxy.manager.driver
        spawned_on = []
        real_spawn = driver.spawn

        def spawn(context, instance, *args, **kwargs):
            spawned_on.append((instance.uuid, instance.node))
            return real_spawn(context, instance, *args, **kwargs)
        driver.spawn = spawn

        first = self.boot('first')
        taken = self.hypervisor_of(first)
        self.placement.delete('/allocations/%s' % first['id'])
        PreferNodeWeigher.preferred = taken

        second = self.boot('second')

        landed = self.hypervisor_of(second)
        self.assertNotEqual(taken, landed)
        # Nova sent the second server to the taken node first (placement
        # allocated it there), then to a free one.
        self.assertEqual([(first['id'], taken), (second['id'], taken),
                          (second['id'], landed)], spawned_on)
        self.assertEqual(first['id'], self.node(taken).instance_uuid)
        self.assertEqual(second['id'], self.node(landed).instance_uuid)
        self.assertEqual('on', self.bmc(landed)['power'])
        # The taken node was never touched on the loser's behalf.
        self.assertEqual('on', self.bmc(taken)['power'])
        allocations = self._get_allocations_by_server_uuid(second['id'])
        self.assertEqual([self.node(landed).uuid], list(allocations))
