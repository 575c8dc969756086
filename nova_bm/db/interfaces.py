"""A node's network interfaces: their MACs and fields, and which Neutron
port (VIF) each carries."""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_bm.db import models
from nova_bm.db import nodes as db_nodes
from nova_bm.db import session as db_session
from nova_bm import exception


def _refuse_if_held(node):
    """The NICs of a held node carry its instance's Neutron ports."""
    if node.instance_uuid is not None:
        raise exception.NodeHeld(node=node.name, instance=node.instance_uuid,
                                 what='interfaces')


def add_interface(ident, address, **fields):
    """Add an interface (a normalised MAC) to a node, with interface fields
    normalised by ``node_spec.interface_fields``.

    :raises: NodeNotFound, DuplicateInterface, NodeHeld
    """
    with db_session.transaction(writer=True) as session:
        node = db_nodes.get_node_in(session, ident)
        _refuse_if_held(node)
        clash = session.execute(
            sa.select(models.Node.name)
            .join(models.Interface,
                  models.Interface.node_id == models.Node.id)
            .where(models.Interface.address == address)).scalar()
        if clash is not None:
            raise exception.DuplicateInterface(address=address, node=clash)
        interface = models.Interface(
            **db_nodes.interface_row(node.id, dict(fields, address=address)))
        session.add(interface)
        try:
            session.flush()
        except db_exc.DBDuplicateEntry as e:
            raise db_nodes.duplicate_error(e) from None
        return interface


def list_interfaces(ident=None):
    """``(interface, node name, node uuid)`` tuples, of one node or all."""
    with db_session.transaction() as session:
        query = session.query(models.Interface, models.Node.name,
                              models.Node.uuid).join(
            models.Node, models.Interface.node_id == models.Node.id)
        if ident is not None:
            query = query.filter(models.Interface.node_id ==
                                 db_nodes.get_node_in(session, ident).id)
        return [tuple(row) for row in
                query.order_by(models.Node.id, models.Interface.id)]


def update_interface(address, fields):
    """Change an interface's fields (normalised by
    ``node_spec.interface_fields``). Refused while an instance holds its
    node: the instance's Neutron port is bound with them.

    :returns: ``(interface, node name)``.
    :raises: InterfaceNotFound, NodeInUse
    """
    with db_session.transaction(writer=True) as session:
        found = session.execute(
            sa.select(models.Interface, models.Node)
            .join(models.Node, models.Interface.node_id == models.Node.id)
            .where(models.Interface.address == address)).first()
        if found is None:
            raise exception.InterfaceNotFound(address=address)
        interface, node = found
        if node.instance_uuid is not None:
            raise exception.NodeInUse(node=node.name,
                                      instance=node.instance_uuid)
        for key, value in fields.items():
            setattr(interface, key, value)
        session.flush()
        return interface, node.name


def assign_vifs(ident, vifs, replace=False):
    """Record which Neutron port (VIF) each of a node's NICs carries.

    :param vifs: ``{interface address: port id}``.
    :param replace: forget the node's other ports first (a spawn: any left
        from before the claim are stale).
    :returns: the node's interfaces after the change.
    :raises: NodeNotFound
    """
    with db_session.transaction(writer=True) as session:
        node = db_nodes.get_node_in(session, ident, with_interfaces=True)
        for interface in node.interfaces:
            if interface.address in vifs:
                interface.vif_id = vifs[interface.address]
            elif replace:
                interface.vif_id = None
        session.flush()
        return list(node.interfaces)


def release_vifs(ident, vif_ids=None):
    """Forget the ports a node's NICs carry: ``vif_ids``, or all of them.

    :returns: ``[(interface address, port id)]`` forgotten.
    """
    with db_session.transaction(writer=True) as session:
        try:
            interfaces = db_nodes.get_node_in(
                session, ident, with_interfaces=True).interfaces
        except exception.NodeNotFound:
            return []
        released = []
        for interface in interfaces:
            if interface.vif_id is not None and (
                    vif_ids is None or interface.vif_id in vif_ids):
                released.append((interface.address, interface.vif_id))
                interface.vif_id = None
        return released


def delete_interface(address):
    """Delete the interface with this (normalised) MAC.

    :raises: InterfaceNotFound, NodeHeld
    """
    with db_session.transaction(writer=True) as session:
        node = session.query(models.Node).join(
            models.Interface, models.Interface.node_id == models.Node.id
        ).filter(models.Interface.address == address).first()
        if node is not None:
            _refuse_if_held(node)
        deleted = session.query(models.Interface).filter(
            models.Interface.address == address).delete(
                synchronize_session=False)
        if not deleted:
            raise exception.InterfaceNotFound(address=address)
