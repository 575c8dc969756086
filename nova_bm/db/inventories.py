"""Inspections' outcomes: a node's hardware as its ramdisk read it, and
the fields and interfaces filled from it."""

import json

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_bm.common import states
from nova_bm.db import models
from nova_bm.db import nodes as db_nodes
from nova_bm.db import session as db_session


def end_inspection(ident, state, fields, interfaces=(), inventory=None):
    """An inspection's outcome, in one transaction: a node still
    ``inspecting`` (no instance) moves to ``state`` with ``fields``; with
    ``inventory`` (a dict) the node's inventory is replaced and
    ``interfaces`` applied. A node an operator or a restart moved
    meanwhile changes nothing.

    :param interfaces: ``{'address', 'pxe_enabled',
        'local_link_connection'}`` dicts: a MAC the node does not have is
        added; one it has gets these values.
    :returns: ``(moved, clash)``: whether the node moved, and when a MAC
        belongs to another node, ``'<mac> (node <name>)'`` (then nothing
        was written).
    :raises: NodeNotFound
    """
    try:
        return _end_inspection(ident, state, fields, interfaces, inventory)
    except db_exc.DBDuplicateEntry:
        # A MAC enrolled on another node since the check: the whole
        # transaction is gone, nothing is kept.
        return False, 'a MAC found (enrolled on another node meanwhile)'


def _end_inspection(ident, state, fields, interfaces, inventory):
    with db_session.transaction(writer=True) as session:
        node = db_nodes.get_node_in(session, ident, with_interfaces=True)
        if inventory is not None and interfaces:
            clash = session.execute(
                sa.select(models.Interface.address, models.Node.name)
                .join(models.Node, models.Interface.node_id == models.Node.id)
                .where(models.Interface.address.in_(
                    sorted(i['address'] for i in interfaces)),
                    models.Node.id != node.id).limit(1)).first()
            if clash is not None:
                return False, '%s (node %s)' % tuple(clash)
        moved = session.query(models.Node).filter(
            models.Node.id == node.id,
            models.Node.provision_state == states.INSPECTING,
            models.Node.instance_uuid.is_(None)).update(
                dict(fields, provision_state=state),
                synchronize_session=False)
        if not moved or inventory is None:
            return bool(moved), None
        _apply_interfaces(session, node, interfaces)
        text = json.dumps(inventory, separators=(',', ':'), sort_keys=True)
        row = session.get(models.Inventory, node.id)
        if row is None:
            session.add(models.Inventory(node_id=node.id, inventory=text))
        else:
            row.inventory = text
        session.flush()
        return True, None


def _apply_interfaces(session, node, interfaces):
    known = {interface.address: interface for interface in node.interfaces}
    for entry in interfaces:
        interface = known.get(entry['address'])
        if interface is None:
            session.add(models.Interface(
                **db_nodes.interface_row(node.id, entry)))
            continue
        interface.pxe_enabled = entry['pxe_enabled']
        interface.local_link_connection = entry['local_link_connection']


def get_inventory(ident):
    """The node's inventory (a dict) from its last successful
    inspection, or None.

    :raises: NodeNotFound
    """
    with db_session.transaction() as session:
        node = db_nodes.get_node_in(session, ident)
        row = session.get(models.Inventory, node.id)
        return None if row is None else json.loads(row.inventory)
