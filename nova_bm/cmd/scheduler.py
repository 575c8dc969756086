"""nova-bm-scheduler: nova-scheduler with whole-node bare-metal scheduling.

It is Nova's own ``nova-scheduler`` entry point — same config files, same
flags, same service, workers and RPC topic — with ``BareMetalSchedulerManager``
as the service's manager, since Nova 34 has no option for the host manager.
A configuration problem found at start is one line on stderr and in the log,
and exit status 1.
"""

# Nova's script first: it applies Nova's monkey patching (or not) before
# anything else is imported, exactly as nova-scheduler does.
from nova.cmd import scheduler as nova_scheduler  # noqa: I100,I202

import sys  # noqa: I100

from nova import service
from oslo_log import log as logging

from nova_bm import exception
from nova_bm.scheduler import manager

LOG = logging.getLogger(__name__)


def main():
    service.SERVICE_MANAGERS['nova-scheduler'] = manager.MANAGER
    try:
        nova_scheduler.main()
    except exception.ConfigInvalid as e:
        LOG.error('nova-bm-scheduler cannot start: %s', e)
        print('nova-bm-scheduler: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
