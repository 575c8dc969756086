"""Deploy and cleaning jobs (:mod:`nova_bm.deploy`): starting one,
handing its ramdisk a token once, recording the ramdisk's calls and
suspicions, ending it."""

from nova_bm.common import states
from nova_bm.db import models
from nova_bm.db import nodes as db_nodes
from nova_bm.db import session as db_session


def start_job(ident, mode, provision_state, expect=None, **fields):
    """Begin a deploy or cleaning of a node: one transaction.

    Any earlier job of the node is deleted (its token dies), the new one
    is written, without a token (the ramdisk's lookup gets one), and the
    node's provision state set, so the node is never seen in its new
    state with an old token alive.

    :param expect: the provision state the node must still be in (one
        conditional UPDATE): else no job is started.
    :param fields: further ``DeployJob`` columns (instance_uuid,
        image_file, image_size, image_sha256, root_device).
    :returns: the new job, or None (``expect`` did not hold).
    :raises: NodeNotFound
    """
    with db_session.transaction(writer=True) as session:
        node = db_nodes.get_node_in(session, ident)
        if expect is not None and not session.query(models.Node).filter(
                models.Node.id == node.id,
                models.Node.provision_state == expect).update(
                    {'provision_state': provision_state, 'last_error': None},
                    synchronize_session=False):
            return None
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
    with db_session.transaction() as session:
        node = db_nodes.get_node_in(session, ident)
        return session.query(models.DeployJob).filter(
            models.DeployJob.node_id == node.id).one_or_none()


def find_job(token_hash):
    """``(job, node)`` for a token's hash, or None."""
    with db_session.transaction() as session:
        row = session.query(models.DeployJob, models.Node).join(
            models.Node, models.Node.id == models.DeployJob.node_id).filter(
                models.DeployJob.token_hash == token_hash).one_or_none()
        return None if row is None else tuple(row)


def find_job_by_macs(macs):
    """What a ramdisk's lookup names: ``(job, node)`` of the one node
    that has an interface with one of ``macs``; ``(None, node)`` when it
    has no job; None when no node or more than one has them. One query.
    """
    with db_session.transaction() as session:
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


def find_inspection_by_system_uuid(system_uuids):
    """What a ramdisk's lookup names when its MACs name no node: ``(job,
    node)`` of the one inspection in flight (waiting, or reported: a
    lookup then is suspect, as for a job found by MAC) whose BMC reported
    one of ``system_uuids`` (the GUIDs of one system UUID), or None when
    none or more than one does. One query."""
    job = models.DeployJob
    with db_session.transaction() as session:
        rows = session.query(job, models.Node).join(
            models.Node, models.Node.id == job.node_id).filter(
                job.system_uuid.in_(sorted(system_uuids)),
                job.mode == states.INSPECT).limit(2).all()
        return tuple(rows[0]) if len(rows) == 1 else None


def mark_job_booted(job_id, now):
    """The proxy powered the job's node on into the ramdisk: a lookup
    may come from now on (not before)."""
    with db_session.transaction(writer=True) as session:
        session.query(models.DeployJob).filter(
            models.DeployJob.id == job_id).update(
                {'booted_at': now}, synchronize_session=False)


def hand_out_token(job_id, token_hash, address, now):
    """Give the job its token, once: one conditional UPDATE, so of two
    lookups racing on any backend (or any two proxies) one wins.

    :returns: True when this call handed it out.
    """
    job = models.DeployJob
    with db_session.transaction(writer=True) as session:
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
    with db_session.transaction(writer=True) as session:
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
    with db_session.transaction(writer=True) as session:
        return bool(session.query(job).filter(*conditions).update(
            dict(result, heartbeat_at=now), synchronize_session=False))


def record_disks(job_id, now, disks, root_device=None, root_size=None,
                 error=None):
    """Record the disks the token holder reported (JSON text) and the
    root device chosen among them, or, with ``error``, the job's failure
    (no disk fits: nothing was written). Once: a second report of the
    disks, or one after the job ended, changes nothing.

    :returns: True when recorded.
    """
    job = models.DeployJob
    values = {'disks': disks, 'heartbeat_at': now}
    if error is None:
        values.update(root_device=root_device, root_size=root_size)
    else:
        values.update(status=states.FAILED, error=error)
    with db_session.transaction(writer=True) as session:
        return bool(session.query(job).filter(
            job.id == job_id, job.status == states.WAITING,
            job.disks.is_(None)).update(values, synchronize_session=False))


def record_image_served(job_id, now):
    """The token holder has read the whole image."""
    with db_session.transaction(writer=True) as session:
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
    with db_session.transaction(writer=True) as session:
        node = db_nodes.get_node_in(session, ident)
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
    with db_session.transaction() as session:
        return session.query(models.DeployJob).all()
