"""Which proxy owns which node, when several proxies share one node DB.

``[baremetal] ownership = hash_ring`` spreads the nodes over the live
nova-compute services that run this driver with a consistent hash ring,
tooz's (the one Ironic and Nova's ironic driver use), so that losing or
adding one of N proxies moves about 1/N of the nodes and no others. A node
whose instance a proxy already hosts stays with that proxy whatever the
ring says, as with Nova's ironic driver: its instance's ``host`` in Nova
is that proxy.

Pure functions of their inputs: the driver feeds them the live services
and the nodes it read; the node DB's conditional update, not these, makes
sure two proxies never both take a node.
"""

from tooz import hashring

from nova_bm.common import states

#: Virtual points per proxy on the ring. Measured over 10 proxies and
#: 10,000 nodes: tooz's default (32) gives the busiest proxy 0.13 of the
#: nodes, 256 gives 0.113, 1024 gives 0.109 (ideal 0.100), and losing a
#: proxy moves exactly its share. The ring of 10 x 1024 points is built in
#: about a millisecond.
PARTITIONS = 1024


class Ring:
    """A consistent hash ring over proxy names."""

    def __init__(self, proxies, partitions=PARTITIONS):
        self.proxies = frozenset(proxies)
        self._ring = hashring.HashRing(sorted(self.proxies),
                                       partitions=partitions)

    def owner(self, node_uuid):
        """The proxy the ring maps ``node_uuid`` to (None: no proxy)."""
        if not self.proxies:
            return None
        (owner,) = self._ring.get_nodes(node_uuid.encode('ascii'))
        return owner

    def owners(self, node_uuids):
        """``{node_uuid: proxy}`` for many nodes."""
        return {uuid: self.owner(uuid) for uuid in node_uuids}


def owned_by(proxy, nodes, ring):
    """The nodes ``proxy`` must manage, out of ``nodes``.

    A node that holds an instance stays with the proxy recorded as its
    ``service_host`` (the instance's host in Nova); a free node belongs to
    the proxy the ring maps it to.
    """
    return [node for node in nodes
            if (node.service_host == proxy if node.instance_uuid
                else ring.owner(node.uuid) == proxy)]


#: Provision state of a free node its owner is working on (its disks being
#: cleaned): it moves only from an owner that is down.
BUSY = states.CLEANING


def takeovers(proxy, nodes, ring, may_take_from, is_down=lambda owner: True):
    """The free nodes ``proxy`` should take: ``{uuid: (owner, proxy)}``.

    A proxy only ever pulls: it takes the free nodes the ring maps to it
    from owners ``may_take_from(owner)`` allows (a proxy that is down, or a
    peer in hash_ring mode), and never gives a node away; the peer the
    ring names pulls it. Nodes holding an instance never move, nor does a
    node being cleaned unless ``is_down(owner)`` (the new owner cleans it
    again). Applied with ``db.api.move_nodes``, whose UPDATE is
    conditional on the owner being unchanged, so a stale view moves
    nothing it should not.
    """
    return {node.uuid: (node.service_host, proxy) for node in nodes
            if node.instance_uuid is None
            and node.service_host != proxy
            and ring.owner(node.uuid) == proxy
            and may_take_from(node.service_host)
            and (node.provision_state != BUSY
                 or is_down(node.service_host))}


def moved_fraction(before, after):
    """Share of the nodes whose owner differs between two ``owners`` maps.
    """
    if not before:
        return 0.0
    moved = sum(1 for uuid, owner in before.items()
                if after.get(uuid) != owner)
    return moved / len(before)
