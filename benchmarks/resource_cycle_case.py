"""The resource-cycle measurement, run in a process of its own.

``python -m benchmarks.resource_cycle_case NODES CYCLES`` prints JSON:
the seconds of each steady-state ``update_available_resource`` of a
nova-compute with Nova's ``fake.FakeDriver`` over NODES nodes and of a
nova-compute with this driver over NODES bare-metal nodes (fake BMCs over
UDP), alternating, in one Nova functional harness. A process of its own
because Nova's harness applies its concurrency mode (eventlet by default,
native with ``OS_NOVA_DISABLE_EVENTLET_PATCHING=1``) at import, before
anything else may start a thread.
"""

import nova.tests.functional  # noqa: F401  (first: concurrency mode)

import sys  # noqa: E402
import time  # noqa: E402

from nova import context as nova_context  # noqa: E402

from benchmarks import nova_harness  # noqa: E402
from tests.functional.compute import base  # noqa: E402

RESULT = {}


def make_case(nodes, cycles):

    class ResourceCycle(base.BareMetalCloudTestCase):
        NODES = nodes

        def test_cycles(self):
            # Nova's report client refreshes each provider's traits,
            # aggregates and inventory from placement when they are
            # [compute] resource_provider_association_refresh (300 s) old:
            # four placement calls per node. The two computes' providers
            # are created a minute or more apart, so with the timer on
            # the refresh falls in whichever measured round crosses the
            # 300 s, usually only the first-created compute's (seen at
            # 1,600 nodes: one nova-bm round 96 s against 37 s, all of it
            # in Nova's report client). Steady rounds are measured with
            # the periodic refresh off for both; a refresh round is then
            # measured for each, alike.
            self.flags(resource_provider_association_refresh=0,
                       group='compute')
            self.flags(compute_driver='fake.FakeDriver')
            fake_compute = self._start_compute('fake-host')
            fake_compute.manager.driver._set_nodes(
                ['fake-host'] + ['fake-%04d' % i for i in range(1, nodes)])
            self.flags(compute_driver='nova_bm.BareMetalDriver')
            proxy = self.start_proxy()
            self.assertEqual(nodes, len(self.compute_nodes()))
            ctxt = nova_context.get_admin_context()
            times = {'fake': [], 'nova_bm': []}
            # The first round creates the FakeDriver's compute nodes and
            # providers; it is not measured.
            for round_ in range(cycles + 1):
                for key, compute in (('fake', fake_compute),
                                     ('nova_bm', proxy)):
                    start = time.perf_counter()
                    compute.manager.update_available_resource(ctxt)
                    if round_:
                        times[key].append(time.perf_counter() - start)
            for key, compute in (('fake', fake_compute),
                                 ('nova_bm', proxy)):
                rt = compute.manager.rt
                for node in rt.compute_nodes.values():
                    rt.reportclient._association_refresh_time.pop(
                        node.uuid, None)
                start = time.perf_counter()
                compute.manager.update_available_resource(ctxt)
                times[key + '_refresh'] = [time.perf_counter() - start]
            self.assertEqual(nodes, len(
                proxy.manager.rt.compute_nodes))
            self.assertEqual(nodes, len(
                fake_compute.manager.rt.compute_nodes))
            RESULT.update(times)

    return ResourceCycle('test_cycles')


def main(nodes, cycles):
    return nova_harness.run_case(make_case(nodes, cycles), RESULT)


if __name__ == '__main__':
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
