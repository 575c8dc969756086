"""Nova's SchedulerManager, built with BareMetalHostManager.

Nova 34 has no option that chooses the scheduler's host manager:
``SchedulerManager.__init__`` builds ``nova.scheduler.host_manager.
HostManager`` by name. ``BareMetalSchedulerManager`` is that manager with
``BareMetalHostManager`` in its place and nothing else changed, so
``nova-bm-scheduler`` is nova-scheduler with the same RPC API, options and
filters. Nova's class is swapped only while the manager is built, so other
code in the process (and Nova's own tests) keep the stock class. Before
that, :mod:`nova_bm.scheduler.preflight` checks the scheduler's options and
filters and raises ``ConfigInvalid`` with one line per problem.
"""

import contextlib

from nova.scheduler import host_manager as nova_host_manager
from nova.scheduler import manager as nova_manager
from oslo_log import log as logging

from nova_bm.conf import CONF
from nova_bm.scheduler import host_manager
from nova_bm.scheduler import preflight

LOG = logging.getLogger(__name__)

#: What ``Service.create(manager=...)`` and nova-bm-scheduler load.
MANAGER = 'nova_bm.scheduler.manager.BareMetalSchedulerManager'


@contextlib.contextmanager
def _host_manager_class(cls):
    original = nova_host_manager.HostManager
    nova_host_manager.HostManager = cls
    try:
        yield
    finally:
        nova_host_manager.HostManager = original


class BareMetalSchedulerManager(nova_manager.SchedulerManager):
    """nova-scheduler's manager, scheduling bare-metal nodes whole."""

    def __init__(self, *args, **kwargs):
        # One line per bad option or filter now, not a traceback later.
        preflight.check(CONF)
        with _host_manager_class(host_manager.BareMetalHostManager):
            super().__init__(*args, **kwargs)
        LOG.info('nova-bm: scheduling with host manager %s.%s: bare-metal '
                 'nodes are consumed whole',
                 type(self.host_manager).__module__,
                 type(self.host_manager).__name__)
