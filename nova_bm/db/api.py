"""Every query of the node database. No other module talks SQL.

Functions take and return plain values or detached model objects; each call
is one transaction (oslo.db enginefacade, configured from
``[baremetal_database]``). Callers may rely on:

* claiming a node for an instance is one conditional UPDATE
  (``… WHERE instance_uuid IS NULL``): of any number of concurrent
  claimants, on any backend, exactly one wins;
* bulk creation is atomic: all nodes and interfaces are written, or none;
* errors come out as :mod:`nova_bm.exception` types whose messages never
  carry SQL parameters (which include IPMI passwords).
"""

import contextlib
import itertools
import logging
import threading
import weakref

from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa
from sqlalchemy import orm

from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm import exception
from nova_bm.db import models
from nova_bm import node_fields
from nova_bm import safe_text

# Rows per INSERT batch and values per IN (...) list: well under every
# backend's limit on bound parameters.
_CHUNK = 500

_lock = threading.Lock()
_context_manager = None


@enginefacade.transaction_context_provider
class _Context:
    """A private transaction holder, so that no caller's context (Nova's
    RequestContext carries Nova's own database transaction) is mixed with
    the node database's."""


def _db_options():
    options = dict(CONF.baremetal_database.items())
    # oslo.db's transaction factory takes these; drop what it does not.
    for name in ('backend', 'use_db_reconnect', 'db_retry_interval',
                 'db_inc_retry_interval', 'db_max_retry_interval',
                 'db_max_retries', 'asyncio_connection',
                 'asyncio_slave_connection'):
        options.pop(name, None)
    options['sqlite_fk'] = True
    return options


def check_connection_url():
    """Refuse a connection URL naming no database SQLAlchemy can drive.

    Without this, oslo.db first warns about the URL, then SQLAlchemy fails
    with "Can't load plugin": two lines, neither naming the option. Only
    the scheme is quoted: the rest of the URL may hold a password.

    :raises: ConfigInvalid.
    """
    url = CONF.baremetal_database.connection
    try:
        sa.engine.make_url(url).get_dialect()
    except Exception:
        scheme = url.split(':', 1)[0] if ':' in url else url
        raise exception.ConfigInvalid(
            reason='[baremetal_database] connection: %s is not a database '
                   'SQLAlchemy can use (sqlite:///PATH, '
                   'mysql+pymysql://…, postgresql+psycopg2://…)'
            % safe_text.quote(scheme[:40] + ':')) from None


def _get_context_manager():
    global _context_manager
    with _lock:
        if _context_manager is None:
            check_connection_url()
            manager = enginefacade.transaction_context()
            manager.configure(**_db_options())
            _context_manager = manager
        return _context_manager


def dispose():
    """Forget the engine, so the next call reads the configuration again.

    Tests call this after changing ``[baremetal_database] connection``.
    """
    global _context_manager
    with _lock:
        manager, _context_manager = _context_manager, None
    if manager is not None:
        manager.dispose_pool()


def engine():
    """The writer engine (for migrations and tests)."""
    with _translate_errors():
        return _engine(_get_context_manager().writer)


class _NoResultRows(logging.Filter):
    """Drops SQLAlchemy's "Row (…)" debug records.

    With ``[baremetal_database] connection_debug = 100`` (or the
    ``sqlalchemy.engine`` logger at DEBUG) SQLAlchemy logs every result row,
    and node rows hold IPMI passwords. Statements are still logged.
    """

    def filter(self, record):
        return not (isinstance(record.msg, str)
                    and record.msg.startswith('Row '))


_NO_RESULT_ROWS = _NoResultRows()


def _engine(mode):
    eng = mode.get_engine()
    # SQL parameters include IPMI passwords: keep them out of every error
    # message and echo log line SQLAlchemy would otherwise write.
    eng.hide_parameters = True
    logger = getattr(eng.logger, 'logger', eng.logger)  # InstanceLogger
    if _NO_RESULT_ROWS not in logger.filters:
        logger.addFilter(_NO_RESULT_ROWS)
    if eng.dialect.name == 'sqlite' and eng not in _sqlite_engines:
        sa.event.listen(eng, 'begin', _sqlite_begin)
        _sqlite_engines.add(eng)
    return eng


# Set while a writer session is open on this thread.
_write_intent = threading.local()
_sqlite_engines = weakref.WeakSet()


def _sqlite_begin(connection):
    """Make SQLite write transactions BEGIN IMMEDIATE.

    oslo.db starts every SQLite transaction with a plain (deferred) BEGIN
    from its own "begin" listener, which runs before this one. A deferred
    transaction that reads and then writes fails at once with "database is
    locked", without waiting, when another writer got there first; one that
    takes the write lock up front waits its turn (pysqlite's busy timeout).
    The deferred BEGIN has taken no lock yet, so swapping it is harmless.
    """
    if not getattr(_write_intent, 'active', False):
        return
    if 'in_transaction' in connection.info:
        connection.exec_driver_sql('ROLLBACK')
    connection.exec_driver_sql('BEGIN IMMEDIATE')
    connection.info['in_transaction'] = True


@contextlib.contextmanager
def _translate_errors():
    try:
        yield
    except db_exc.DBConnectionError as e:
        raise exception.DatabaseUnavailable(reason=_reason(e)) from None
    except db_exc.DBNonExistentDatabase as e:
        raise exception.DatabaseUnavailable(reason=_reason(e)) from None
    except db_exc.DBNonExistentTable as e:
        raise exception.DatabaseNotReady(reason=_reason(e)) from None
    except (db_exc.DBError, sa.exc.DBAPIError) as e:
        if _is_missing_table(e):
            raise exception.DatabaseNotReady(reason=_reason(e)) from None
        raise


# What MySQL/MariaDB (errors 1146, 1054) and PostgreSQL (SQLSTATE 42P01,
# 42703) say of a table or column that does not exist: a schema older than
# this code. oslo.db names only SQLite's missing table.
_MYSQL_OLD_SCHEMA = (1146, 1054)
_PG_OLD_SCHEMA = ('42P01', '42703')


def _is_missing_table(error):
    inner = getattr(error, 'inner_exception', None) or error
    orig = getattr(inner, 'orig', None) or inner
    if getattr(orig, 'pgcode', None) in _PG_OLD_SCHEMA:
        return True
    args = getattr(orig, 'args', ())
    if args and args[0] in _MYSQL_OLD_SCHEMA:
        return True
    return bool(args) and str(args[0]).startswith('no such column')


def _reason(error):
    """The database server's own words, without SQL or parameters."""
    inner = getattr(error, 'inner_exception', None) or error
    inner = getattr(inner, 'orig', None) or inner
    args = getattr(inner, 'args', ())
    text = str(args[-1]) if args else str(inner)
    return ' '.join(text.split())


@contextlib.contextmanager
def _session(writer=False):
    manager = _get_context_manager()
    mode = manager.writer if writer else manager.reader
    with _translate_errors():
        _engine(mode)
        # The transaction begins at the session's first statement.
        _write_intent.active = writer
        try:
            with mode.using(_Context()) as session:
                yield session
        finally:
            _write_intent.active = False


def _chunks(values, size=_CHUNK):
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _node_query(session, ident):
    uuid = node_fields.canonical_uuid(ident)
    if uuid is not None:
        return session.query(models.Node).filter(models.Node.uuid == uuid)
    return session.query(models.Node).filter(models.Node.name == ident)


def _get_node(session, ident, with_interfaces=False):
    query = _node_query(session, ident)
    if with_interfaces:
        query = query.options(orm.selectinload(models.Node.interfaces))
    node = query.one_or_none()
    if node is None:
        raise exception.NodeNotFound(node=ident)
    return node


# -- nodes -----------------------------------------------------------------

def get_node(ident, with_interfaces=False):
    """A node by name or UUID.

    :raises: NodeNotFound
    """
    with _session() as session:
        return _get_node(session, ident, with_interfaces)


def list_nodes(service_host=None, maintenance=None):
    """Nodes, oldest first, optionally of one proxy or maintenance state."""
    with _session() as session:
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
    with _session() as session:
        for chunk in _chunks(wanted):
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

    A state is stored and clears ``last_error``; an error is stored in
    ``last_error`` and leaves the last known state alone. Two statements,
    whatever the number of nodes.
    """
    states = [{'b_uuid': uuid, 'b_state': value}
              for uuid, value in results.items()
              if not isinstance(value, Exception)]
    errors = [{'b_uuid': uuid, 'b_error': str(value)}
              for uuid, value in results.items()
              if isinstance(value, Exception)]
    table = models.Node.__table__
    with _session(writer=True) as session:
        if states:
            session.execute(
                table.update()
                .where(table.c.uuid == sa.bindparam('b_uuid'))
                .values(power_state=sa.bindparam('b_state'),
                        last_error=None), states)
        if errors:
            session.execute(
                table.update()
                .where(table.c.uuid == sa.bindparam('b_uuid'))
                .values(last_error=sa.bindparam('b_error')), errors)


def count_nodes():
    with _session() as session:
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
    with _session(writer=True) as session:
        _check_unique_in_db(session, specs)
        try:
            interfaces = _insert_nodes(session, specs, progress)
        except db_exc.DBDuplicateEntry as e:
            # A concurrent writer got there between our check and insert.
            raise _duplicate_error(e) from None
    return len(specs), interfaces


def _insert_nodes(session, specs, progress):
    total = len(specs)
    done = 0
    interfaces = 0
    for chunk in _chunks(specs):
        rows = [dict(row, provision_state=states.AVAILABLE,
                     maintenance=False)
                for row, _macs in chunk]
        session.execute(sa.insert(models.Node), rows)
        ids = dict(session.execute(
            sa.select(models.Node.uuid, models.Node.id).where(
                models.Node.uuid.in_([r['uuid'] for r in rows]))).all())
        ports = [_interface_row(ids[row['uuid']], entry)
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


def _interface_row(node_id, entry):
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
        for chunk in _chunks([row[field] for row, _ in specs]):
            clash = session.execute(
                sa.select(column).where(column.in_(chunk)).limit(1)).scalar()
            if clash is not None:
                raise _duplicate(field, clash)
    wanted = {(row['ipmi_address'], row['ipmi_port']) for row, _ in specs}
    for chunk in _chunks(sorted({address for address, _ in wanted})):
        for address, port in session.execute(
                sa.select(node.ipmi_address, node.ipmi_port).where(
                    node.ipmi_address.in_(chunk))):
            if (address, port) in wanted:
                raise _duplicate('bmc', '%s:%s' % (address, port))
    for chunk in _chunks([_address(entry) for _, entries in specs
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


def _duplicate_error(error):
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


def update_node(ident, changes):
    """Apply validated changes (``node_spec.node_changes``) to a node.

    :returns: the updated node, with its interfaces loaded.
    :raises: NodeNotFound, DuplicateNode (BMC address:port taken),
        NodeInUse (moving a node that holds an instance to another proxy,
        or changing its deploy interface)
    """
    with _session(writer=True) as session:
        node = _get_node(session, ident)
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
            changes = dict(changes, maintenance_reason=None)
        for field, value in changes.items():
            setattr(node, field, value)
        try:
            session.flush()
        except db_exc.DBDuplicateEntry as e:
            raise _duplicate_error(e) from None
        uuid = node.uuid
    return get_node(uuid, with_interfaces=True)


def destroy_node(ident):
    """Delete a node and its interfaces, unless an instance holds it.

    The delete is conditional on ``instance_uuid IS NULL`` in the same
    statement, so it cannot race with a claim.

    :raises: NodeNotFound, NodeInUse
    """
    with _session(writer=True) as session:
        node = _get_node(session, ident)
        deleted = session.query(models.Node).filter(
            models.Node.id == node.id,
            models.Node.instance_uuid.is_(None)).delete(
                synchronize_session=False)
        if not deleted:
            session.refresh(node)
            raise exception.NodeInUse(node=ident,
                                      instance=node.instance_uuid)


# -- claims ----------------------------------------------------------------

#: Provision states (``bm_nodes.provision_state``). Only an ``available``
#: node can be claimed; ``cleaning`` and ``clean failed`` nodes are
#: reserved in placement.
# The provision states, named where callers of the database have always
# found them (nova_bm.common.states is their home).
AVAILABLE = states.AVAILABLE
DEPLOYING = states.DEPLOYING
ACTIVE = states.ACTIVE
DEPLOY_FAILED = states.DEPLOY_FAILED
CLEANING = states.CLEANING
CLEAN_FAILED = states.CLEAN_FAILED

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
    with _session(writer=True) as session:
        node = _get_node(session, ident)
        conditions = [
            models.Node.id == node.id,
            models.Node.maintenance == sa.false(),
            sa.or_(sa.and_(models.Node.instance_uuid.is_(None),
                           models.Node.provision_state == AVAILABLE),
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
                 provision_state=AVAILABLE, last_error=None):
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
    if maintenance_reason is not None:
        values.update(maintenance=True,
                      maintenance_reason=maintenance_reason)
    with _session(writer=True) as session:
        node = _get_node(session, ident)
        released = session.query(models.Node).filter(
            models.Node.id == node.id,
            models.Node.instance_uuid == instance_uuid,
        ).update(values, synchronize_session=False)
        return bool(released)


def get_node_by_instance(instance_uuid):
    """The node an instance holds, or None."""
    with _session() as session:
        return session.query(models.Node).filter(
            models.Node.instance_uuid == instance_uuid).first()


def list_instance_uuids(service_host):
    """UUIDs of the instances on the nodes of one proxy, in one query."""
    with _session() as session:
        rows = session.query(models.Node.instance_uuid).filter(
            models.Node.service_host == service_host,
            models.Node.instance_uuid.isnot(None)).order_by(models.Node.id)
        return [row.instance_uuid for row in rows]


# -- ownership (scale-out) -------------------------------------------------

def list_partition(partition_key):
    """Every node of one partition key (None: nodes without a key), oldest
    first, in one query: what a hash_ring proxy divides with its peers."""
    column = models.Node.partition_key
    with _session() as session:
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
    with _session(writer=True) as session:
        for (old, new), uuids in sorted(by_pair.items()):
            for chunk in _chunks(sorted(uuids)):
                conditions = [models.Node.uuid.in_(chunk),
                              models.Node.service_host == old,
                              models.Node.instance_uuid.is_(None)]
                if old not in busy_from:
                    conditions.append(
                        models.Node.provision_state != CLEANING)
                moved += session.query(models.Node).filter(
                    *conditions).update({'service_host': new},
                                        synchronize_session=False)
    return moved


def record_proxy(host, partition_key, ownership, now):
    """Say that proxy ``host`` runs, with this key and mode, at ``now``."""
    values = {'partition_key': partition_key, 'ownership': ownership,
              'seen_at': now}
    with _session(writer=True) as session:
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
    with _session() as session:
        return session.query(models.Proxy).order_by(models.Proxy.host).all()


def list_orphaned(live_hosts):
    """Nodes holding an instance whose proxy is not in ``live_hosts``."""
    with _session() as session:
        return session.query(models.Node).filter(
            models.Node.instance_uuid.isnot(None),
            models.Node.service_host.notin_(sorted(live_hosts)),
        ).order_by(models.Node.id).all()


# -- interfaces ------------------------------------------------------------

def add_interface(ident, address, **fields):
    """Add an interface (a normalised MAC) to a node, with interface fields
    normalised by ``node_spec.interface_fields``.

    :raises: NodeNotFound, DuplicateInterface
    """
    with _session(writer=True) as session:
        node = _get_node(session, ident)
        clash = session.execute(
            sa.select(models.Node.name)
            .join(models.Interface,
                  models.Interface.node_id == models.Node.id)
            .where(models.Interface.address == address)).scalar()
        if clash is not None:
            raise exception.DuplicateInterface(address=address, node=clash)
        interface = models.Interface(
            **_interface_row(node.id, dict(fields, address=address)))
        session.add(interface)
        try:
            session.flush()
        except db_exc.DBDuplicateEntry as e:
            raise _duplicate_error(e) from None
        return interface


def list_interfaces(ident=None):
    """``(interface, node name, node uuid)`` tuples, of one node or all."""
    with _session() as session:
        query = session.query(models.Interface, models.Node.name,
                              models.Node.uuid).join(
            models.Node, models.Interface.node_id == models.Node.id)
        if ident is not None:
            query = query.filter(models.Interface.node_id ==
                                 _get_node(session, ident).id)
        return [tuple(row) for row in
                query.order_by(models.Node.id, models.Interface.id)]


def update_interface(address, fields):
    """Change an interface's fields (normalised by
    ``node_spec.interface_fields``). Refused while an instance holds its
    node: the instance's Neutron port is bound with them.

    :returns: ``(interface, node name)``.
    :raises: InterfaceNotFound, NodeInUse
    """
    with _session(writer=True) as session:
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
    with _session(writer=True) as session:
        node = _get_node(session, ident, with_interfaces=True)
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
    with _session(writer=True) as session:
        try:
            interfaces = _get_node(session, ident,
                                   with_interfaces=True).interfaces
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

    :raises: InterfaceNotFound
    """
    with _session(writer=True) as session:
        deleted = session.query(models.Interface).filter(
            models.Interface.address == address).delete(
                synchronize_session=False)
        if not deleted:
            raise exception.InterfaceNotFound(address=address)


# -- deploys and cleanings (nova_bm.deploy) ---------------------------------

def set_provision_state(ident, state, last_error=None,
                        maintenance_reason=None):
    """Set a node's provision state, and its ``last_error`` when given.

    With ``maintenance_reason`` the node also goes into maintenance.

    :returns: the node. :raises: NodeNotFound
    """
    with _session(writer=True) as session:
        node = _get_node(session, ident)
        node.provision_state = state
        if last_error is not None:
            node.last_error = last_error
        if maintenance_reason is not None:
            node.maintenance = True
            node.maintenance_reason = maintenance_reason
        session.flush()
        return node


def start_job(ident, mode, provision_state, **fields):
    """Begin a deploy or cleaning of a node: one transaction.

    Any earlier job of the node is deleted (its token dies), the new one
    is written, without a token (the ramdisk's lookup gets one), and the
    node's provision state set, so the node is never seen in its new
    state with an old token alive.

    :param fields: further ``DeployJob`` columns (instance_uuid,
        image_file, image_size, image_sha256, root_device).
    :returns: the new job. :raises: NodeNotFound
    """
    with _session(writer=True) as session:
        node = _get_node(session, ident)
        session.query(models.DeployJob).filter(
            models.DeployJob.node_id == node.id).delete(
                synchronize_session=False)
        job = models.DeployJob(node_id=node.id, mode=mode,
                               status=states.WAITING, **fields)
        session.add(job)
        node.provision_state = provision_state
        node.last_error = None
        session.flush()
        return job


def get_job(ident):
    """The node's current deploy or cleaning job, or None.

    ``ident`` is a name or UUID.

    :raises: NodeNotFound
    """
    with _session() as session:
        node = _get_node(session, ident)
        return session.query(models.DeployJob).filter(
            models.DeployJob.node_id == node.id).one_or_none()


def find_job(token_hash):
    """``(job, node)`` for a token's hash, or None."""
    with _session() as session:
        row = session.query(models.DeployJob, models.Node).join(
            models.Node, models.Node.id == models.DeployJob.node_id).filter(
                models.DeployJob.token_hash == token_hash).one_or_none()
        return None if row is None else tuple(row)


def find_job_by_macs(macs):
    """What a ramdisk's lookup names: ``(job, node)`` of the one node
    that has an interface with one of ``macs``; ``(None, node)`` when it
    has no job; None when no node or more than one has them. One query.
    """
    with _session() as session:
        rows = session.query(models.Node, models.DeployJob).join(
            models.Interface, models.Interface.node_id == models.Node.id
        ).outerjoin(
            models.DeployJob, models.DeployJob.node_id == models.Node.id
        ).filter(models.Interface.address.in_(list(macs))).all()
        nodes = {node.id: (job, node) for node, job in rows}
        if len(nodes) != 1:
            return None
        (found,) = nodes.values()
        return found


def mark_job_booted(job_id, now):
    """The proxy powered the job's node on into the ramdisk: a lookup
    may come from now on (not before)."""
    with _session(writer=True) as session:
        session.query(models.DeployJob).filter(
            models.DeployJob.id == job_id).update(
                {'booted_at': now}, synchronize_session=False)


def hand_out_token(job_id, token_hash, address, now):
    """Give the job its token, once: one conditional UPDATE, so of two
    lookups racing on any backend (or any two proxies) one wins.

    :returns: True when this call handed it out.
    """
    job = models.DeployJob
    with _session(writer=True) as session:
        return bool(session.query(job).filter(
            job.id == job_id, job.token_hash.is_(None),
            job.status == states.WAITING, job.suspicion.is_(None)).update(
                {'token_hash': token_hash, 'holder_address': address,
                 'looked_up_at': now, 'heartbeat_at': now},
                synchronize_session=False))


def suspect_job(job_id, reason):
    """The job cannot be trusted: keep the first ``reason`` and, if it
    still waits for its report, fail it with that reason, so the flow
    waiting for it ends at once and never counts it a success."""
    job = models.DeployJob
    with _session(writer=True) as session:
        session.query(job).filter(
            job.id == job_id, job.suspicion.is_(None)).update(
                {'suspicion': reason}, synchronize_session=False)
        session.query(job).filter(
            job.id == job_id, job.status == states.WAITING).update(
                {'status': states.FAILED, 'error': reason},
                synchronize_session=False)


def record_job_call(job_id, now, **result):
    """Record a call of the token holder: its heartbeat and, with
    ``result``, its outcome (status, result_sha256, result_device,
    error).

    An outcome is recorded once: the first ``done`` wins, later ones and
    calls after the job ended change nothing.

    :returns: True when the call was recorded.
    """
    job = models.DeployJob
    conditions = [job.id == job_id]
    if result:
        conditions.append(job.status == states.WAITING)
    with _session(writer=True) as session:
        return bool(session.query(job).filter(*conditions).update(
            dict(result, heartbeat_at=now), synchronize_session=False))


def record_image_served(job_id, now):
    """The token holder has read the whole image."""
    with _session(writer=True) as session:
        session.query(models.DeployJob).filter(
            models.DeployJob.id == job_id).update(
                {'image_served_at': now, 'heartbeat_at': now},
                synchronize_session=False)


def end_job(ident, job_id=None, trusted=False):
    """Delete the node's job (only this one, with ``job_id``; with
    ``trusted``, only if nothing made it suspect: one conditional DELETE,
    so a suspicion recorded at the last moment is never lost).

    :returns: True when a job was deleted.
    """
    with _session(writer=True) as session:
        node = _get_node(session, ident)
        query = session.query(models.DeployJob).filter(
            models.DeployJob.node_id == node.id)
        if job_id is not None:
            query = query.filter(models.DeployJob.id == job_id)
        if trusted:
            query = query.filter(models.DeployJob.suspicion.is_(None))
        return bool(query.delete(synchronize_session=False))


def list_jobs():
    """Every job whose image is still being read: the image cache must
    not evict those files. One query."""
    with _session() as session:
        return session.query(models.DeployJob).all()
