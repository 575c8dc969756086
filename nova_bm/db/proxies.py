"""Which proxy (nova-compute service host) owns which node, and which
proxies run: the records that rebalancing reads and moves nodes with."""

from oslo_db import exception as db_exc

from nova_bm.common import states
from nova_bm.db import models
from nova_bm.db import session as db_session


def list_partition(partition_key):
    """Every node of one partition key (None: nodes without a key), oldest
    first, in one query: what a hash_ring proxy divides with its peers."""
    column = models.Node.partition_key
    with db_session.transaction() as session:
        return session.query(models.Node).filter(
            column.is_(None) if partition_key is None
            else column == partition_key).order_by(models.Node.id).all()


def move_nodes(moves, busy_from=()):
    """Hand free nodes to another proxy: ``{uuid: (from_host, to_host)}``.

    One conditional UPDATE per (from, to) pair and 500 nodes: a node moves
    only if ``from_host`` still owns it and no instance holds it, so two
    proxies racing for a node cannot both get it, and a node claimed in
    the meantime stays where its instance is. A node being cleaned moves
    only from a host in ``busy_from`` (proxies that are down): a live
    owner finishes its cleaning.

    :returns: how many nodes moved.
    """
    by_pair = {}
    for uuid, pair in moves.items():
        by_pair.setdefault(pair, []).append(uuid)
    moved = 0
    with db_session.transaction(writer=True) as session:
        for (old, new), uuids in sorted(by_pair.items()):
            for chunk in db_session.chunks(sorted(uuids)):
                conditions = [models.Node.uuid.in_(chunk),
                              models.Node.service_host == old,
                              models.Node.instance_uuid.is_(None)]
                if old not in busy_from:
                    conditions.append(
                        models.Node.provision_state != states.CLEANING)
                moved += session.query(models.Node).filter(
                    *conditions).update({'service_host': new},
                                        synchronize_session=False)
    return moved


def record_proxy(host, partition_key, ownership, now):
    """Say that proxy ``host`` runs, with this key and mode, at ``now``."""
    values = {'partition_key': partition_key, 'ownership': ownership,
              'seen_at': now}
    with db_session.transaction(writer=True) as session:
        updated = session.query(models.Proxy).filter(
            models.Proxy.host == host).update(values,
                                               synchronize_session=False)
        if updated:
            return
        try:
            with session.begin_nested():
                session.add(models.Proxy(host=host, **values))
        except db_exc.DBDuplicateEntry:
            # The same host registered at the same moment (a restart
            # racing the old process): its row is there; refresh it.
            session.query(models.Proxy).filter(
                models.Proxy.host == host).update(
                    values, synchronize_session=False)


def list_proxies():
    """Every proxy that ever reported itself, by host."""
    with db_session.transaction() as session:
        return session.query(models.Proxy).order_by(models.Proxy.host).all()


def list_orphaned(live_hosts):
    """Nodes holding an instance whose proxy is not in ``live_hosts``."""
    with db_session.transaction() as session:
        return session.query(models.Node).filter(
            models.Node.instance_uuid.isnot(None),
            models.Node.service_host.notin_(sorted(live_hosts)),
        ).order_by(models.Node.id).all()
