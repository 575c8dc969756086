"""Claiming a node for an instance and releasing it: each one
conditional UPDATE, so that of concurrent claimants exactly one wins; and
which node an instance holds."""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_bm.common import states
from nova_bm.db import models
from nova_bm.db import nodes as db_nodes
from nova_bm.db import session as db_session
from nova_bm import exception


def claim_node(ident, instance_uuid, service_host=None):
    """Give a node to an instance: one conditional UPDATE, race-free.

    Succeeds when the node is free and not in maintenance, or already held
    by this same instance (so a retried spawn is harmless), and, with
    ``service_host``, still owned by that proxy: a node another proxy took
    over meanwhile (``move_nodes``) cannot be claimed by the old owner.

    :returns: the claimed node.
    :raises: NodeNotFound; NodeNotAvailable when it is held by another
        instance or in maintenance (including when another claimant won),
        when this instance already holds another node, or when the node
        has moved to another proxy.
    """
    with db_session.transaction(writer=True) as session:
        node = db_nodes.get_node_in(session, ident)
        conditions = [
            models.Node.id == node.id,
            models.Node.maintenance == sa.false(),
            sa.or_(sa.and_(models.Node.instance_uuid.is_(None),
                           models.Node.provision_state == states.AVAILABLE),
                   models.Node.instance_uuid == instance_uuid)]
        if service_host is not None:
            conditions.append(models.Node.service_host == service_host)
        try:
            claimed = session.query(models.Node).filter(
                *conditions,
            ).update({'instance_uuid': instance_uuid},
                     synchronize_session=False)
        except db_exc.DBDuplicateEntry:
            # instance_uuid is unique: one instance, one node.
            raise exception.NodeNotAvailable(
                node=ident, reason='instance %s already holds another node'
                % instance_uuid) from None
        session.refresh(node)
        if not claimed:
            if service_host is not None and node.service_host != service_host:
                reason = 'it is now managed by proxy %s' % node.service_host
            elif node.maintenance:
                reason = 'it is in maintenance'
            elif node.instance_uuid is None:
                reason = 'it is %s' % node.provision_state
            else:
                reason = 'it is held by instance %s' % node.instance_uuid
            raise exception.NodeNotAvailable(node=ident, reason=reason)
        return node


def release_node(ident, instance_uuid, maintenance_reason=None,
                 provision_state=states.AVAILABLE, last_error=None,
                 fault=None):
    """Free a node held by ``instance_uuid``; a no-op when it is not.

    With ``maintenance_reason``, the same statement also puts the node in
    maintenance (for a node whose machine could not be confirmed off, so
    that no one else gets it before an operator has looked). The same
    statement sets ``provision_state`` (``cleaning`` for a node whose disk
    must be cleaned first), so the node is never free and ``available``
    in between.

    :returns: True when this call released the node.
    :raises: NodeNotFound
    """
    values = {'instance_uuid': None, 'provision_state': provision_state}
    if last_error is not None:
        values['last_error'] = last_error
    if fault is not None:
        values['fault'] = fault
    if maintenance_reason is not None:
        values.update(maintenance=True,
                      maintenance_reason=maintenance_reason)
    with db_session.transaction(writer=True) as session:
        node = db_nodes.get_node_in(session, ident)
        released = session.query(models.Node).filter(
            models.Node.id == node.id,
            models.Node.instance_uuid == instance_uuid,
        ).update(values, synchronize_session=False)
        return bool(released)


def get_node_by_instance(instance_uuid):
    """The node an instance holds, or None."""
    with db_session.transaction() as session:
        return session.query(models.Node).filter(
            models.Node.instance_uuid == instance_uuid).first()


def list_instance_uuids(service_host):
    """UUIDs of the instances on the nodes of one proxy, in one query."""
    with db_session.transaction() as session:
        rows = session.query(models.Node.instance_uuid).filter(
            models.Node.service_host == service_host,
            models.Node.instance_uuid.isnot(None)).order_by(models.Node.id)
        return [row.instance_uuid for row in rows]
