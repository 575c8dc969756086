"""The scheduler measurement, run in a process of its own.

``python -m benchmarks.scheduler_case NODES ROUNDS`` prints JSON: the
seconds of each ``select_destinations`` of one bare-metal server among
NODES bare-metal nodes, by Nova's stock ``SchedulerManager`` (stock
``HostManager``, Nova's default filters) and by ``BareMetalSchedulerManager``
(``BareMetalHostManager``, default filters + the three exact filters),
alternating, in one Nova functional harness: real placement, Nova's cell
database, one nova-compute proxy with this driver reporting the nodes.
Each call claims the chosen node in placement, as a real boot does; the
claim is dropped before the next call so every call sees the same cloud.
Two comparisons: with the proxy's instance list synced to the schedulers
(steady state), and without (after a scheduler start, or with
``[filter_scheduler] track_instance_changes = False``).
"""

import nova.tests.functional  # noqa: F401  (first: concurrency mode)

import sys  # noqa: E402
import time  # noqa: E402

from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova.scheduler import manager as nova_manager  # noqa: E402
from oslo_utils import uuidutils  # noqa: E402

from nova_bm.scheduler import manager as bm_manager  # noqa: E402
from benchmarks import nova_harness  # noqa: E402
from tests.functional.compute import base  # noqa: E402
from tests.functional.compute import test_scheduler  # noqa: E402

RESULT = {}


def make_case(nodes, rounds):

    class Scheduling(base.BareMetalCloudTestCase):
        NODES = nodes

        def manager(self, cls, enabled_filters, available_filters):
            self.flags(enabled_filters=enabled_filters,
                       available_filters=available_filters,
                       group='filter_scheduler')
            return cls()

        def request(self, ctxt, flavor):
            uuid = uuidutils.generate_uuid()
            spec = objects.RequestSpec.from_components(
                ctxt, uuid, objects.ImageMeta.from_dict({}), flavor,
                None, None, {}, None, None, project_id=ctxt.project_id,
                user_id=ctxt.user_id)
            return uuid, spec

        def count_weighed(self, host_manager, counts):
            weigh = host_manager.get_weighed_hosts

            def counting(hosts, spec_obj):
                hosts = list(hosts)
                counts.append(len(hosts))
                return weigh(hosts, spec_obj)
            host_manager.get_weighed_hosts = counting

        def sync_instance_info(self, ctxt, scheduler):
            # HostManager loads its instance view in the background when
            # it starts; a sync before that is overwritten, so repeat it
            # until it holds.
            deadline = time.monotonic() + 60
            while True:
                scheduler.sync_instance_info(ctxt, self.PROXY, [])
                info = scheduler.host_manager._instance_info.get(self.PROXY)
                if info and info.get('updated'):
                    return
                self.assertLess(time.monotonic(), deadline,
                                'the scheduler never took the instance sync')
                time.sleep(0.2)

        def managers(self):
            stock_filters = test_scheduler.default_enabled_filters()
            managers = {
                'stock': self.manager(
                    nova_manager.SchedulerManager, stock_filters,
                    ['nova.scheduler.filters.all_filters']),
                'nova_bm': self.manager(
                    bm_manager.BareMetalSchedulerManager,
                    stock_filters + test_scheduler.EXACT_FILTERS,
                    ['nova.scheduler.filters.all_filters'] + [
                        'nova_bm.scheduler.filters.%s' % name
                        for name in test_scheduler.EXACT_FILTERS])}
            self.assertEqual('BareMetalHostManager', type(
                managers['nova_bm'].host_manager).__name__)
            return managers

        def compare(self, flavor, synced):
            """Alternate the two managers; seconds per select_destinations.

            ``synced``: feed both managers what nova-compute's periodic
            _sync_scheduler_instance_info casts to every scheduler (these
            managers are not on RPC), the proxy's instance list; without
            it, as after a scheduler restart or with track_instance_changes
            off, Nova's HostManager reads the proxy's instances from the
            database once per node and request.
            """
            managers = self.managers()
            times = {key: [] for key in managers}
            weighed = {key: [] for key in managers}
            for key, scheduler in managers.items():
                self.count_weighed(scheduler.host_manager, weighed[key])
                if synced:
                    self.sync_instance_info(
                        nova_context.get_admin_context(), scheduler)
            # The first round warms caches and is not measured.
            for round_ in range(rounds + 1):
                for key, scheduler in managers.items():
                    # A context per request, as each RPC request has.
                    ctxt = nova_context.get_admin_context()
                    ctxt.project_id = ctxt.user_id = 'bench'
                    uuid, spec = self.request(ctxt, flavor)
                    start = time.perf_counter()
                    selections = scheduler.select_destinations(
                        ctxt, spec_obj=spec, instance_uuids=[uuid],
                        return_objects=True, return_alternates=True)
                    elapsed = time.perf_counter() - start
                    self.assertEqual(1, len(selections))
                    scheduler.placement_client.delete_allocation_for_instance(
                        ctxt, uuid, force=True)
                    if round_:
                        times[key].append(elapsed)
            # Every node passed the filters and was weighed, every time:
            # the figures are of a choice among all of them.
            self.assertEqual({nodes}, set(weighed['stock'] +
                                          weighed['nova_bm']))
            return times

        def test_select_destinations(self):
            # Reporting 1,000 new nodes takes the proxy longer than Nova's
            # service_down_time on this machine; ComputeFilter must not
            # take the proxy for dead while the two managers are compared.
            self.flags(service_down_time=3600)
            # The test base's 1 s IPMI timeout is for a handful of BMCs; at
            # start-up the proxy sweeps all NODES at once, and a BMC that
            # misses the timeout is reserved, leaving fewer candidates.
            self.flags(ipmi_timeout=5.0, group='baremetal')
            self.start_proxy()
            self.assertEqual(nodes, len(self.compute_nodes()))
            flavor = objects.Flavor.get_by_flavor_id(
                nova_context.get_admin_context(), self.flavor)
            RESULT['synced'] = self.compare(flavor, synced=True)
            RESULT['unsynced'] = self.compare(flavor, synced=False)

    return Scheduling('test_select_destinations')


def main(nodes, rounds):
    return nova_harness.run_case(make_case(nodes, rounds), RESULT)


if __name__ == '__main__':
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
