"""Node rows: looking them up, enrolling them (one or many, all or
none), changing, deleting them, and recording their power and provision
states.

:func:`get_node_in`, :func:`interface_row` and :func:`duplicate_error` are
for the modules beside this one (claims, interfaces, jobs), inside their
own transaction.
"""

from oslo_db import exception as db_exc
from oslo_log import log as logging
import sqlalchemy as sa
from sqlalchemy import orm

from nova_bm.common import node_fields
from nova_bm.common import states
from nova_bm.db import models
from nova_bm.db import session as db_session
from nova_bm import exception

LOG = logging.getLogger(__name__)


def _node_query(session, ident):
    uuid = node_fields.canonical_uuid(ident)
    if uuid is not None:
        return session.query(models.Node).filter(models.Node.uuid == uuid)
    return session.query(models.Node).filter(models.Node.name == ident)


def get_node_in(session, ident, with_interfaces=False, for_update=False):
    """:func:`get_node` in the caller's transaction (``for_update``: its
    row locked until the transaction ends, on MySQL and PostgreSQL).

    :raises: NodeNotFound
    """
    query = _node_query(session, ident)
    if for_update:
        query = query.with_for_update()
    if with_interfaces:
        query = query.options(orm.selectinload(models.Node.interfaces))
    node = query.one_or_none()
    if node is None:
        raise exception.NodeNotFound(node=ident)
    return node


def get_node(ident, with_interfaces=False):
    """A node by name or UUID.

    :raises: NodeNotFound
    """
    with db_session.transaction() as session:
        return get_node_in(session, ident, with_interfaces)


def list_nodes(service_host=None, maintenance=None):
    """Nodes, oldest first, optionally of one proxy or maintenance state."""
    with db_session.transaction() as session:
        query = session.query(models.Node)
        if service_host is not None:
            query = query.filter(models.Node.service_host == service_host)
        if maintenance is not None:
            query = query.filter(models.Node.maintenance == maintenance)
        return query.order_by(models.Node.id).all()


def get_nodes(idents):
    """Nodes by name or UUID, in the order given, with one query per 500.

    :raises: NodeNotFound naming the first ident that matches no node.
    """
    # A UUID in any spelling is looked up in its canonical form.
    keys = {ident: node_fields.canonical_uuid(ident) or ident
            for ident in idents}
    wanted = list(dict.fromkeys(keys.values()))
    found = {}
    with db_session.transaction() as session:
        for chunk in db_session.chunks(wanted):
            for node in session.query(models.Node).filter(sa.or_(
                    models.Node.uuid.in_(chunk),
                    models.Node.name.in_(chunk))):
                found[node.uuid] = found[node.name] = node
    for ident, key in keys.items():
        if key not in found:
            raise exception.NodeNotFound(node=ident)
    return list({found[k].id: found[k] for k in keys.values()}.values())


def record_power_states(results):
    """Store what the BMCs said: ``{uuid: state | BmcError}``.

    A state is stored and clears ``last_error`` and a BMC fault. An error
    that counts against the BMC (``exception.bmc_fault``) makes the power
    state unknown (None: the last value would be a guess) and sets the
    fault, unless a graver one is set; any error is stored in
    ``last_error``. At most three
    statements, whatever the number of nodes.
    """
    table = models.Node.__table__
    read = [{'b_uuid': uuid, 'b_state': value}
            for uuid, value in results.items()
            if not isinstance(value, Exception)]
    unreachable = [{'b_uuid': uuid, 'b_error': str(value),
                    'b_fault': exception.bmc_fault(value)}
                   for uuid, value in results.items()
                   if isinstance(value, Exception)
                   and exception.bmc_fault(value)]
    refused = [{'b_uuid': uuid, 'b_error': str(value)}
               for uuid, value in results.items()
               if isinstance(value, Exception)
               and not exception.bmc_fault(value)]
    by_uuid = table.c.uuid == sa.bindparam('b_uuid')
    # (No IN: executemany takes no expanding parameter.)
    bmc_fault = sa.or_(*(table.c.fault == fault
                         for fault in sorted(states.BMC_FAULTS)))
    with db_session.transaction(writer=True) as session:
        if read:
            session.execute(
                table.update().where(by_uuid).values(
                    power_state=sa.bindparam('b_state'), last_error=None,
                    fault=sa.case((bmc_fault, None),
                                  else_=table.c.fault)), read)
        if unreachable:
            # A graver fault (power off not confirmed, clean failed) stays
            # until an operator clears it.
            session.execute(
                table.update().where(by_uuid).values(
                    power_state=None, last_error=sa.bindparam('b_error'),
                    fault=sa.case(
                        (sa.or_(table.c.fault.is_(None), bmc_fault),
                         sa.bindparam('b_fault')),
                        else_=table.c.fault)), unreachable)
        if refused:
            session.execute(
                table.update().where(by_uuid).values(
                    last_error=sa.bindparam('b_error')), refused)


def count_nodes():
    with db_session.transaction() as session:
        return session.query(sa.func.count(models.Node.id)).scalar()


def create_node(row, macs=()):
    """Create one node and its interfaces in one transaction.

    :param row: validated column values (``node_spec.new_node``).
    :returns: the new node, with its interfaces loaded.
    :raises: DuplicateNode, DuplicateInterface
    """
    create_nodes([(row, macs)])
    return get_node(row['uuid'], with_interfaces=True)


def create_nodes(specs, progress=None):
    """Create many nodes with their interfaces: all of them, or none.

    :param specs: a list of ``(row, interfaces)`` pairs: interfaces as MACs
        (``node_spec.new_node``) or as ``node_spec.interface_specs``.
    :param progress: optional ``callable(done, total)``, called as batches
        of nodes are written.
    :returns: ``(number of nodes, number of interfaces)`` created.
    :raises: DuplicateNode or DuplicateInterface naming the first clash,
        among the specs or with nodes already enrolled; nothing is written.
    """
    _check_unique_among(specs)
    with db_session.transaction(writer=True) as session:
        _check_unique_in_db(session, specs)
        try:
            interfaces = _insert_nodes(session, specs, progress)
        except db_exc.DBDuplicateEntry as e:
            # A concurrent writer got there between our check and insert.
            raise duplicate_error(e) from None
    return len(specs), interfaces


def _insert_nodes(session, specs, progress):
    total = len(specs)
    done = 0
    interfaces = 0
    for chunk in db_session.chunks(specs):
        rows = [dict({'provision_state': states.AVAILABLE,
                      'maintenance': False}, **row)
                for row, _macs in chunk]
        session.execute(sa.insert(models.Node), rows)
        ids = dict(session.execute(
            sa.select(models.Node.uuid, models.Node.id).where(
                models.Node.uuid.in_([r['uuid'] for r in rows]))).all())
        ports = [interface_row(ids[row['uuid']], entry)
                 for row, entries in chunk for entry in entries]
        if ports:
            session.execute(sa.insert(models.Interface), ports)
        interfaces += len(ports)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    return interfaces


def _address(entry):
    """The MAC of an interface given as a MAC or as a mapping."""
    return entry if isinstance(entry, str) else entry['address']


def interface_row(node_id, entry):
    """An interface row from a MAC or from ``node_spec.interface_specs``'s
    mapping; every row has every column (one executemany)."""
    spec = {'address': entry} if isinstance(entry, str) else entry
    return {'node_id': node_id, 'address': spec['address'],
            'pxe_enabled': spec.get('pxe_enabled', True),
            'physical_network': spec.get('physical_network'),
            'local_link_connection': spec.get('local_link_connection')}


def _bmc(row):
    return '%s:%s' % (row['ipmi_address'], row['ipmi_port'])


def _check_unique_among(specs):
    """Refuse a batch that clashes with itself before asking the DB."""
    seen = {'uuid': set(), 'name': set(), 'bmc': set(), 'mac': set()}
    for row, macs in specs:
        for field, value in (('uuid', row['uuid']), ('name', row['name']),
                             ('bmc', _bmc(row))):
            if value in seen[field]:
                raise exception.DuplicateInBatch(field=_FIELD_LABELS[field],
                                                 value=repr(value))
            seen[field].add(value)
        for mac in map(_address, macs):
            if mac in seen['mac']:
                raise exception.DuplicateInBatch(field='MAC address',
                                                 value=mac)
            seen['mac'].add(mac)


def _check_unique_in_db(session, specs):
    """Refuse nodes whose name, UUID, BMC or MAC is already enrolled.

    A few chunked IN queries, whatever the number of nodes, so the error
    can name the field and value (a constraint violation cannot on every
    backend).
    """
    node = models.Node
    for field, column in (('uuid', node.uuid), ('name', node.name)):
        for chunk in db_session.chunks([row[field] for row, _ in specs]):
            clash = session.execute(
                sa.select(column).where(column.in_(chunk)).limit(1)).scalar()
            if clash is not None:
                raise _duplicate(field, clash)
    wanted = {(row['ipmi_address'], row['ipmi_port']) for row, _ in specs}
    for chunk in db_session.chunks(
            sorted({address for address, _ in wanted})):
        for address, port in session.execute(
                sa.select(node.ipmi_address, node.ipmi_port).where(
                    node.ipmi_address.in_(chunk))):
            if (address, port) in wanted:
                raise _duplicate('bmc', '%s:%s' % (address, port))
    for chunk in db_session.chunks([_address(entry)
                                    for _, entries in specs
                                    for entry in entries]):
        clash = session.execute(
            sa.select(models.Interface.address, node.name)
            .join(node, models.Interface.node_id == node.id)
            .where(models.Interface.address.in_(chunk)).limit(1)).first()
        if clash is not None:
            raise exception.DuplicateInterface(address=clash[0],
                                               node=clash[1])


_FIELD_LABELS = {'bmc': 'BMC address:port', 'name': 'name', 'uuid': 'UUID'}


def _duplicate(field, value):
    return exception.DuplicateNode(field=_FIELD_LABELS[field],
                                   value=repr(value))


def duplicate_error(error):
    """The DuplicateNode or DuplicateInterface that a unique constraint's
    violation (``DBDuplicateEntry``) means."""
    columns = set(error.columns or ())
    if 'address' in columns:
        return exception.DuplicateInterface(address=error.value or '?',
                                            node='another node')
    for field in ('name', 'uuid'):
        if field in columns:
            return _duplicate(field, error.value or '?')
    if columns & {'ipmi_address', 'ipmi_port'}:
        return _duplicate('bmc', error.value or '?')
    return exception.DuplicateNode(field=', '.join(sorted(columns)) or '?',
                                   value='(same value)')


#: Fields Nova's allocation for an instance rests on: refused while an
#: instance holds the node.
HELD_FIELDS = ('resource_class', 'cpus', 'memory_mb', 'local_gb',
               'cpu_arch', 'traits')


def update_node(ident, changes, force=False):
    """Apply validated changes (``node_spec.node_changes``) to a node.

    A node whose cleaning failed stays in maintenance until a cleaning
    succeeds (``nova-bm-manage node clean``); with ``force`` it leaves
    maintenance anyway and is cleaned again (``cleaning``), never made
    available.

    :returns: the updated node, with its interfaces loaded.
    :raises: NodeNotFound, DuplicateNode (BMC address:port taken),
        NodeInUse (moving a node that holds an instance to another proxy,
        or changing its deploy interface), NodeBusy (changing the boot
        mode of a node being deployed or cleaned), NodeStateRefused
        (taking a ``clean failed`` node out of maintenance without
        ``force``)
    """
    with db_session.transaction(writer=True) as session:
        # Locked: a claim between the checks and the write would change
        # what they checked.
        node = get_node_in(session, ident, for_update=True)
        moved = (changes.get('service_host', node.service_host)
                 != node.service_host)
        redeployed = (changes.get('deploy_interface', node.deploy_interface)
                      != node.deploy_interface)
        if (moved or redeployed) and node.instance_uuid is not None:
            # Nova keeps the instance on the compute service that built
            # it; its node must stay with that proxy. The deploy interface
            # decides how the instance is torn down (cleaning or not).
            raise exception.NodeInUse(node=ident,
                                      instance=node.instance_uuid)
        if (changes.get('boot_mode', node.boot_mode) != node.boot_mode
                and node.provision_state in states.IN_FLIGHT):
            # Its BMC was told the boot path for this job. An active
            # node may be relabelled (a node enrolled before boot modes
            # existed is "bios" until its operator says otherwise): the
            # next rebuild, reboot into cleaning and trait follow.
            raise exception.NodeBusy(node=node.name,
                                     state=node.provision_state,
                                     what='boot mode')
        held = sorted(field for field in HELD_FIELDS
                      if field in changes
                      and changes[field] != getattr(node, field))
        if held and node.instance_uuid is not None:
            # What Nova and placement hold the instance's allocation
            # against: changed under it, Nova can no longer free it.
            raise exception.NodeHeld(node=node.name,
                                     instance=node.instance_uuid,
                                     what=', '.join(held))
        if 'ipmi_address' in changes or 'ipmi_port' in changes:
            address = changes.get('ipmi_address', node.ipmi_address)
            port = changes.get('ipmi_port', node.ipmi_port)
            clash = session.query(models.Node.id).filter(
                models.Node.ipmi_address == address,
                models.Node.ipmi_port == port,
                models.Node.id != node.id).first()
            if clash is not None:
                raise _duplicate('bmc', '%s:%s' % (address, port))
        if changes.get('maintenance') is False:
            # Out of maintenance: the operator looked; its fault goes with
            # it (a BMC fault comes back at the next failed read).
            changes = dict(changes, maintenance_reason=None, fault=None)
            if (node.provision_state == states.CLEAN_FAILED
                    and node.maintenance):
                if not force:
                    raise exception.NodeStateRefused(
                        node=node.name, state=node.provision_state,
                        reason='it stays in maintenance until a cleaning '
                               'succeeds: run "nova-bm-manage node clean '
                               '%s" (or --force to take it out; it is '
                               'cleaned again)' % node.name)
                if changes.get('clean_mode', node.clean_mode) == (
                        states.CLEAN_NONE):
                    raise exception.NodeStateRefused(
                        node=node.name, state=node.provision_state,
                        reason='its clean mode is none: nothing would '
                               'erase it; give it another clean mode')
                LOG.warning('Node %s taken out of maintenance by force '
                            'after its cleaning failed; it is cleaned '
                            'again', node.name)
                changes['provision_state'] = states.CLEANING
                changes['clean_request'] = None
        for field, value in changes.items():
            setattr(node, field, value)
        try:
            session.flush()
        except db_exc.DBDuplicateEntry as e:
            raise duplicate_error(e) from None
        uuid = node.uuid
    return get_node(uuid, with_interfaces=True)


def destroy_node(ident):
    """Delete a node and its interfaces, unless an instance holds it.

    The delete is conditional on ``instance_uuid IS NULL`` in the same
    statement, so it cannot race with a claim.

    :raises: NodeNotFound, NodeInUse
    """
    with db_session.transaction(writer=True) as session:
        node = get_node_in(session, ident)
        deleted = session.query(models.Node).filter(
            models.Node.id == node.id,
            models.Node.instance_uuid.is_(None)).delete(
                synchronize_session=False)
        if not deleted:
            session.refresh(node)
            raise exception.NodeInUse(node=ident,
                                      instance=node.instance_uuid)


def set_provision_state(ident, state, last_error=None,
                        maintenance_reason=None, fault=None, **fields):
    """Set a node's provision state, and its ``last_error`` when given.

    With ``maintenance_reason`` the node also goes into maintenance, with
    ``fault`` (``states.FAULT_*``) when given; ``fields`` are further
    columns (``last_cleaning``, ``clean_request``).

    :returns: the node. :raises: NodeNotFound
    """
    with db_session.transaction(writer=True) as session:
        node = get_node_in(session, ident)
        node.provision_state = state
        for field, value in fields.items():
            setattr(node, field, value)
        if last_error is not None:
            node.last_error = last_error
        if maintenance_reason is not None:
            node.maintenance = True
            node.maintenance_reason = maintenance_reason
        if fault is not None:
            node.fault = fault
        session.flush()
        return node


def end_cleaning(ident, state, **fields):
    """A cleaning's outcome: a node still ``cleaning`` (no instance) moves
    to ``state`` with ``fields``, in one conditional UPDATE, so that a
    cleaning an operator or a restart superseded changes nothing.

    :returns: True when the node moved. :raises: NodeNotFound
    """
    with db_session.transaction(writer=True) as session:
        node = get_node_in(session, ident)
        return bool(session.query(models.Node).filter(
            models.Node.id == node.id,
            models.Node.provision_state == states.CLEANING,
            models.Node.instance_uuid.is_(None)).update(
                dict(fields, provision_state=state),
                synchronize_session=False))


def change_provision_state(ident, allowed, state, refusal,
                           maintenance=None, out_of_maintenance=False,
                           **fields):
    """Move a node no instance holds from one of the states ``allowed``
    to ``state`` (with ``fields``), in one conditional UPDATE: of two
    concurrent callers, or a caller and the proxy, one wins.

    :param refusal: what the refusal says when the node is elsewhere.
    :param maintenance: when not None, the node's maintenance must be
        this too.
    :param out_of_maintenance: take it out of maintenance too (its
        reason, fault and last error go).
    :returns: the node. :raises: NodeNotFound, NodeStateRefused
    """
    if out_of_maintenance:
        fields.update(maintenance=False, maintenance_reason=None,
                      fault=None, last_error=None)
    with db_session.transaction(writer=True) as session:
        node = get_node_in(session, ident)
        conditions = [models.Node.id == node.id,
                      models.Node.instance_uuid.is_(None),
                      models.Node.provision_state.in_(sorted(allowed))]
        if maintenance is not None:
            conditions.append(models.Node.maintenance == maintenance)
        moved = session.query(models.Node).filter(*conditions).update(
            dict(fields, provision_state=state), synchronize_session=False)
        if not moved:
            session.refresh(node)  # what the refusal says is current
            if maintenance is not None and node.maintenance != maintenance:
                refusal = 'it is %sin maintenance' % (
                    '' if node.maintenance else 'not ')
            held = (' (held by instance %s)' % node.instance_uuid
                    if node.instance_uuid else '')
            raise exception.NodeStateRefused(
                node=node.name, state=node.provision_state + held,
                reason=refusal)
        uuid = node.uuid
    return get_node(uuid, with_interfaces=True)
