"""Inspections: a node's deploy ramdisk reads its hardware, and the node's
fields and interfaces are filled from what it found.

``nova-bm-manage node inspect`` moves a node to ``inspecting``; its proxy
runs the inspection in a thread of its own, at most ``[baremetal]
max_concurrent_inspections`` at once (:mod:`nova_bm.proxy.node_queue`).
Callers may rely on:

* a node enrolled with its BMC alone (no MAC) is found by the system UUID
  its BMC reports (IPMI Get System GUID): one that reports none (or a
  placeholder) fails at once, saying so, before the machine is powered
  on;
* the node's fields (``cpus``, ``memory_mb``, ``local_gb``, ``cpu_arch``,
  ``boot_mode``) are filled where unknown (0 or empty: enrolled by BMC
  alone); a value set by hand that differs from what was found is kept
  and reported (``disagreements`` of ``last_inspection``), unless the
  operator asked to overwrite;
* its interfaces: every NIC found is enrolled (PXE on the NIC the machine
  booted from, the switch port from LLDP); one it had keeps its PXE flag
  unless overwritten, and its switch port unless overwritten by one found
  (no LLDP frame never clears one);
* a MAC found that belongs to another node fails the inspection and
  changes nothing; so does anything else short of a valid inventory from
  the token holder followed by the machine's power off;
* success is ``manageable`` (``node provide`` offers it), failure
  ``inspect failed`` with the reason; never ``available`` directly. The
  whole inventory is kept (``nova-bm-manage node inventory``).
"""

from oslo_log import log as logging
from oslo_utils import timeutils

from nova_bm.common import safe_text
from nova_bm.common import states
from nova_bm.common import system_uuid
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow
from nova_bm import exception
from nova_bm.inspection import properties
from nova_bm.proxy import node_queue

LOG = logging.getLogger(__name__)

#: The node fields an inspection fills.
FIELDS = ('cpus', 'memory_mb', 'local_gb', 'cpu_arch', 'boot_mode')


def needs_inspection(node):
    return (node.provision_state == states.INSPECTING
            and not node.maintenance and node.instance_uuid is None)


def _interfaces(node, found, overwrite):
    """``(rows, disagreements)``: the interface rows to write, from the
    NICs ``found`` (:func:`properties.derive`'s ``interfaces``)."""
    known = {interface.address: interface for interface in node.interfaces}
    rows, disagreements = [], []
    for entry in found:
        interface = known.pop(entry['address'], None)
        if interface is None:
            rows.append(entry)
            continue
        row = dict(entry)
        if (interface.pxe_enabled != entry['pxe_enabled']
                and not overwrite):
            disagreements.append(
                'interface %s: PXE %s, found %s' % (
                    entry['address'], _yes(interface.pxe_enabled),
                    _yes(entry['pxe_enabled'])))
            row['pxe_enabled'] = interface.pxe_enabled
        if interface.local_link_connection and (
                not overwrite or entry['local_link_connection'] is None):
            # No LLDP frame is no news: a switch port is replaced only by
            # one found (and with --overwrite).
            row['local_link_connection'] = interface.local_link_connection
        rows.append(row)
    disagreements += ['interface %s: not found on the machine' % address
                      for address in sorted(known)]
    return rows, disagreements


def _yes(value):
    return 'on' if value else 'off'


def run_inspection(parts, task):
    """Inspect the task's node: ``inspecting`` → ``manageable``, or
    ``inspect failed`` with the reason.

    :param parts: the proxy: ``power``, ``deploys``, ``provisioner``.
    :param task: its node with its interfaces loaded.
    :returns: whether the inspection succeeded.
    :raises: ProxyStopping (the node is left for the next start)
    """
    node = task.node
    provisioner = parts.provisioner
    record = {key: value for key, value in (node.last_inspection or {}).items()
              if key in ('requested_at', 'overwrite')}
    record['started_at'] = timeutils.utcnow().isoformat()
    overwrite = bool(record.get('overwrite'))
    guid = None
    if not node.interfaces:
        try:
            guid = parts.power.get_system_guid(node)
        except exception.BMC_TROUBLE as e:
            return provisioner.inspect_failed(
                task, 'its BMC did not tell its system GUID, by which the '
                      'ramdisk of a node without enrolled MACs is found: %s'
                      % e, record)
        guid = system_uuid.parse(guid)
        if guid is None or not all(
                system_uuid.parse(form)
                for form in system_uuid.product_uuids(guid)):
            # A placeholder in any byte order: the ramdisk sends none.
            return provisioner.inspect_failed(
                task, 'its BMC reports no system GUID (or a placeholder), by '
                      'which the ramdisk '
                      'of a node without enrolled MACs is found: enrol its '
                      'PXE MAC (nova-bm-manage interface add)', record)
        other = db_api.find_inspection_by_system_uuid([guid])
        if other is not None and other[1].uuid != node.uuid:
            return provisioner.inspect_failed(
                task, 'its BMC reports the system GUID %s, as the BMC of '
                      'node %s (being inspected) does: its ramdisk could '
                      'not be told from the other\'s' % (guid, other[1].name),
                record)
    # Only a node still inspecting: its BMC's answer may have taken a
    # while, and an operator may have moved it meanwhile.
    job = provisioner.start_job(task, states.INSPECT, system_uuid=guid,
                                expect=states.INSPECTING)
    if job is None:
        LOG.warning('Node %s is no longer inspecting: not inspected',
                    node.name)
        return False
    try:
        inventory = parts.deploys.inspect(task.node, job.id)
    except deploy_flow.DeployFailed as e:
        reason = 'inspection failed: %s' % e.reason
        if e.off_error:
            reason += '; power off not confirmed: %s' % e.off_error
        return provisioner.inspect_failed(task, reason, record)
    values, problems = properties.derive(
        inventory, node.root_device_hints or {},
        CONF.baremetal.root_disk_min_gb << 30)
    if problems:
        return provisioner.inspect_failed(
            task, 'inspection found: %s' % '; '.join(problems), record)
    current = {field: getattr(node, field) for field in FIELDS}
    if not node.cpus:
        # Enrolled by its BMC alone: its architecture and boot mode are
        # the defaults, nobody's word; what was found replaces them.
        current.update(cpu_arch=None, boot_mode=None)
    to_set, disagreements = properties.compare(
        current, {field: values[field] for field in FIELDS if field in values},
        overwrite)
    rows, more = _interfaces(node, values['interfaces'], overwrite)
    disagreements += more
    record.update(set=to_set, disagreements=disagreements)
    for line in disagreements:
        LOG.warning('Node %(node)s: %(line)s (%(how)s)',
                    {'node': node.name, 'line': safe_text.escape(line),
                     'how': 'replaced: --overwrite' if overwrite else
                     'kept; node inspect --overwrite takes what was found'})
    return provisioner.inspected(task, to_set, rows, inventory, record)


class Inspections(node_queue.NodeQueue):
    """The inspections this proxy runs, and those waiting their turn."""

    what = 'inspected'
    thread_prefix = 'nova-bm-inspect-'
    option = 'max_concurrent_inspections'

    @staticmethod
    def needs(node):
        return needs_inspection(node)

    def run(self, task):
        try:
            run_inspection(self._parts, task)
        except deploy_flow.ProxyStopping:
            raise
        except Exception as e:
            # Never left inspecting, to be power cycled again at every
            # resource cycle: failed, with the reason.
            LOG.exception('The inspection of node %s failed', task.node.name)
            self._parts.provisioner.inspect_failed(
                task, 'internal error: %s' % safe_text.escape(str(e),
                                                              limit=200),
                {'requested_at': (task.node.last_inspection or {}).get(
                    'requested_at')})
