"""One proxy's share of the nodes, each resource cycle, in hash_ring mode.

What the driver runs before it reads the nodes it owns. Callers may rely
on:

* the node database's ``service_host`` is the only truth about who owns a
  node; a proxy manages exactly the nodes whose ``service_host`` is its
  host, in both modes, and changes it only with the conditional UPDATE of
  ``db.api.move_nodes``: never two owners, whatever the proxies believe;
* the ring is made of the proxies in hash_ring mode with this proxy's
  ``[baremetal] partition_key`` (known from the node DB's ``bm_proxies``)
  whose nova-compute service is enabled and up by Nova's servicegroup API,
  as Nova's ironic driver builds its ring; a disabled proxy drains;
* free nodes are taken from a proxy that is down (or not a running
  nova-compute at all) or from a peer in hash_ring mode, never from a
  running proxy in static mode; nodes holding an instance never move,
  since Nova keeps the instance on the compute service that built it;
* the cost per cycle is a constant number of queries (this proxy's row,
  the proxy table, Nova's compute services, the partition's nodes, one
  UPDATE per source proxy when something moves), whatever the number of
  nodes.
"""

from nova import context as nova_context
from nova import objects
from nova import servicegroup
from oslo_log import log as logging
from oslo_utils import timeutils

from nova_bm.db import api as db_api
from nova_bm.proxy import ownership

LOG = logging.getLogger(__name__)

STATIC = 'static'
HASH_RING = 'hash_ring'

_COMPUTE_BINARY = 'nova-compute'


class ComputeServices:
    """Which nova-compute services Nova sees up, by its servicegroup API."""

    def __init__(self):
        self._servicegroup = servicegroup.API()

    def up(self):
        """``(up, up_and_enabled)``: two sets of host names, one query."""
        services = objects.ServiceList.get_by_binary(
            nova_context.get_admin_context(), _COMPUTE_BINARY,
            include_disabled=True)
        up = {svc.host for svc in services
              if self._servicegroup.service_is_up(svc)}
        enabled = {svc.host for svc in services
                   if svc.host in up and not svc.disabled}
        return up, enabled


class Rebalancer:
    """Keeps this proxy's row in ``bm_proxies`` and, in hash_ring mode,
    pulls the free nodes the ring gives it."""

    def __init__(self, host, mode, partition_key, services=None):
        self.host = host
        self.mode = mode
        self.partition_key = partition_key
        self._services = services or ComputeServices()
        self.ring = None

    def run(self):
        """Report this proxy; take over nodes. :returns: nodes moved."""
        db_api.record_proxy(self.host, self.partition_key, self.mode,
                            timeutils.utcnow())
        if self.mode != HASH_RING:
            return 0
        up, enabled = self._services.up()
        proxies = db_api.list_proxies()
        peers = {p.host for p in proxies if p.ownership == HASH_RING}
        members = {p.host for p in proxies
                   if p.host in enabled and p.host in peers
                   and p.partition_key == self.partition_key}
        if self.host not in enabled:
            # Disabled or forced down: the others take our free nodes;
            # pulling them back would make them bounce every cycle.
            members.discard(self.host)
        self._log_members(members)
        self.ring = ownership.Ring(members)
        nodes = db_api.list_partition(self.partition_key)
        moves = ownership.takeovers(
            self.host, nodes, self.ring,
            lambda owner: owner not in up or owner in peers,
            lambda owner: owner not in up)
        if not moves:
            return 0
        moved = db_api.move_nodes(
            moves, busy_from={old for old, _ in moves.values()} - up)
        LOG.info('Took over %(moved)d of %(wanted)d free nodes the hash '
                 'ring gives this proxy, from %(owners)s',
                 {'moved': moved, 'wanted': len(moves),
                  'owners': ', '.join(sorted({old for old, _ in
                                              moves.values()}))})
        return moved

    def _log_members(self, members):
        if self.ring is None or self.ring.proxies != members:
            LOG.info('Hash ring of partition %(key)s: %(members)s',
                     {'key': self.partition_key or '(none)',
                      'members': ', '.join(sorted(members)) or '(empty)'})
