"""A node's life with an instance: claim, deploy or netboot, release,
teardown, rebuild — and the one place a node's ``provision_state`` is
written (:mod:`nova_bm.proxy.cleaning` and :mod:`nova_bm.proxy.inspection`
ask here for their own transitions).

Ironic's ``conductor/deployments.py`` and ``utils.py`` do this over a
task; here each operation takes a :class:`~nova_bm.proxy.task.NodeTask`
and the mechanisms (deploy, network, console) it drives return outcomes.
Callers (the driver) may rely on:

* what the image deploy refuses is refused before the claim;
* a failed spawn leaves the node released: powered off when the BMC
  confirms it (else in maintenance), ``cleaning`` when the deploy ramdisk
  may have written to it, its ports unbound; :class:`ClaimRefused` and
  :class:`SpawnFailed` say why in one line, and ``SpawnFailed.suspect``
  says the node's ramdisk was impersonated (held back in ``clean failed``);
* a rebuild keeps the node: it fails into ``deploy failed``;
* teardown is idempotent and never leaves a node another tenant could get
  while it may still run this one's system.
"""

from nova import exception as nova_exception
from oslo_log import log as logging
from oslo_utils import timeutils

from nova_bm.common import node_fields
from nova_bm.common import notifications
from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow
from nova_bm.deploy import image_checks
from nova_bm import exception

LOG = logging.getLogger(__name__)

#: The state a node enters with a job of each mode.
_JOB_STATES = {states.DEPLOY: states.DEPLOYING, states.CLEAN: states.CLEANING,
               states.INSPECT: states.INSPECTING}

#: The boot device a ``netboot`` node is given for its instance: it boots
#: its operating system from the network, as prepared by the cloud's PXE
#: service, on every boot of this instance.
NETBOOT_DEVICE = 'pxe'


class ClaimRefused(Exception):
    """The node cannot be given to the instance (Nova reschedules)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class SpawnFailed(Exception):
    """The deploy failed after the claim; ``suspect``: something other
    than the node's ramdisk spoke for it (do not reschedule)."""

    def __init__(self, reason, suspect=False):
        super().__init__(reason)
        self.reason = reason
        self.suspect = suspect


class InstanceRef:
    """What a release needs of an instance Nova may no longer have."""

    def __init__(self, uuid):
        self.uuid = uuid

    def get(self, key, default=None):  # what oslo.log reads
        return self.uuid if key == 'uuid' else default


def clean_mode(node):
    """The mode the node's next cleaning runs in (``none``: none)."""
    return node_fields.effective_clean_mode(
        node, CONF.baremetal.automated_clean)


def after_use(node):
    """The state of an ``image`` node its instance left."""
    if clean_mode(node) == states.CLEAN_NONE:
        return states.AVAILABLE
    return states.CLEANING


def after_doubt(node, reason):
    """The state of an ``image`` node its instance left when ``reason``
    (power off not confirmed, a deploy that cannot be trusted) holds it
    for an operator: ``clean failed`` when it is to be cleaned (an
    operator's ``node clean`` cleans it), else what :func:`after_use`
    says (the maintenance holds it)."""
    if reason and after_use(node) == states.CLEANING:
        return states.CLEAN_FAILED
    return after_use(node)


def off_reason(instance_uuid, off_error):
    if off_error is None:
        return None
    return ('power off not confirmed after the deploy of instance %s '
            'failed: %s' % (instance_uuid, off_error))


def _drive_fields(drive):
    """The job's config drive columns (none without a drive)."""
    if drive is None:
        return {}
    return {'configdrive_file': drive.name, 'configdrive_size': drive.size,
            'configdrive_sha256': drive.sha256}


class Provisioner:
    """The instance operations of one proxy.

    :param parts: the proxy (:class:`~nova_bm.proxy.manager.Proxy`):
        ``task(node)``, ``cache``, ``deploys``, ``network``, ``consoles``
        and ``cleanings``.
    """

    def __init__(self, parts):
        self._parts = parts

    # -- spawn -----------------------------------------------------------

    @staticmethod
    def check_image(instance, image_meta, node):
        """What an image deploy onto ``node`` refuses (an image of the
        other boot mode too), before anything is fetched or powered.

        :raises: ImageUnacceptable"""
        image_checks.check_request(instance, image_meta)
        mismatch = image_checks.boot_mode_mismatch(image_meta, node)
        if mismatch:
            raise nova_exception.ImageUnacceptable(
                image_id=image_meta.id if 'id' in image_meta else '(none)',
                reason=mismatch)

    def check(self, instance, image_meta, network_info):
        """What the node would refuse, refused before the claim.

        :raises: ImageUnacceptable, ClaimRefused (the node cannot boot the
            image: another may), InstanceDeployFailure (no NIC for a
            port)"""
        node = self._parts.cache.get(instance.node)
        if node is not None and node.deploy_interface == states.IMAGE:
            image_checks.check_request(instance, image_meta)
            mismatch = image_checks.boot_mode_mismatch(image_meta, node)
            if mismatch:
                raise ClaimRefused(mismatch)
            image_checks.check_declared_size(image_meta, node)
        if node is not None and network_info:
            self._parts.network.check(
                db_api.get_node(node.uuid, with_interfaces=True),
                network_info)

    def spawn(self, context, instance, image_meta, network_info,
              power_on=True, injected_files=None, admin_password=None):
        """Claim ``instance.node``, then deploy the image to it (``image``
        nodes, with the instance's config drive when it asks for one) or
        boot it from the network (``netboot`` nodes).

        :raises: ClaimRefused, SpawnFailed, and what the image service or
            Neutron raised (the node then released)
        """
        self.check(instance, image_meta, network_info)
        task = self._claim(instance)
        if task.node.deploy_interface == states.IMAGE:
            self._deploy(context, task, instance, image_meta, network_info,
                         injected_files=injected_files,
                         admin_password=admin_password)
        else:
            self._netboot(context, task, instance, power_on, network_info)
        LOG.info('Instance is on node %s', task.node.name, instance=instance)

    def _claim(self, instance):
        cache = self._parts.cache
        node = cache.get(instance.node)
        if node is None:
            raise ClaimRefused('node %s is not managed by %s'
                               % (instance.node, cache.host))
        task = self._parts.task(node)
        if task.bmc_failing:
            raise ClaimRefused('the BMC of node %s is failing: %s'
                               % (node.name, task.bmc_error))
        try:
            task.node = db_api.claim_node(node.uuid, instance.uuid,
                                          service_host=cache.host)
        except (exception.NodeNotAvailable, exception.NodeNotFound) as e:
            raise ClaimRefused(str(e)) from None
        cache.put(task.node)
        task.notify(notifications.CLAIMED)
        return task

    def _undo_claim(self, task, instance):
        """After a failed spawn: power off if possible, then release."""
        reason = None
        try:
            task.power.power_off(task.node)
        except exception.BMC_TROUBLE as e:
            reason = ('power off not confirmed after a failed spawn of '
                      'instance %s: %s' % (instance.uuid, e))
        self.release(task, instance, reason,
                     fault=states.FAULT_POWER_OFF if reason else None)

    def _netboot(self, context, task, instance, power_on, network_info):
        network = self._parts.network
        node = task.node
        try:
            network.bind(context, instance,
                         db_api.get_node(node.uuid, with_interfaces=True),
                         network_info)
        except BaseException:
            self._undo_claim(task, instance)
            raise
        try:
            task.run(task.power.set_boot_device, NETBOOT_DEVICE, True)
            self.open_console(node)
            if power_on:
                task.run(task.power.power_on)
            self._set_state(task, states.ACTIVE)
        except exception.BMC_TROUBLE as e:
            network.unbind(context, instance, node, network_info)
            self._undo_claim(task, instance)
            raise SpawnFailed('node %s: %s' % (node.name, e)) from None
        except BaseException:
            network.unbind(context, instance, node, network_info)
            self._undo_claim(task, instance)
            raise

    def _deploy(self, context, task, instance, image_meta, network_info=None,
                rebuild=False, injected_files=None, admin_password=None):
        """Fetch the image, bind the ports (the boot NIC's with the iPXE
        DHCP options), build the config drive, write the image (and the
        drive), boot it. On failure the node is off; a spawn's node is
        released to be cleaned and its ports unbound, a rebuild's stays
        with its instance (``deploy failed``)."""
        deploys, network = self._parts.deploys, self._parts.network
        try:
            image = deploys.fetch(context, image_meta)
        except BaseException:
            if not rebuild:
                self.release(task, instance)  # nothing was written
            raise
        boot_url = deploys.boot_url()
        try:
            node = db_api.get_node(task.node.uuid, with_interfaces=True)
            task.node = node
            if rebuild:
                network.boot_options(context, node, boot_url)
            else:
                network.bind(context, instance, node, network_info, boot_url)
        except BaseException:
            deploys.unpin(image)
            if not rebuild:
                self.release(task, instance)  # nothing was written
            raise
        try:
            self._write_and_boot(task, instance, image_meta, image,
                                 (network_info, injected_files,
                                  admin_password))
        except deploy_flow.ProxyStopping:
            raise SpawnFailed('nova-compute stopped during the deploy'
                              ) from None
        except (nova_exception.ImageUnacceptable,
                nova_exception.BuildAbortException):
            # Refused before power on: nothing was written.
            if rebuild:
                network.remove_boot_options(context, node, boot_url)
            else:
                network.unbind(context, instance, node, network_info)
                self.release(task, instance)
            raise
        except deploy_flow.DeployFailed as e:
            self._deploy_failed(context, task, instance, network_info,
                                e.reason, e.off_error, rebuild, boot_url,
                                e.suspect)
            raise SpawnFailed('node %s: %s' % (node.name, e.reason),
                              suspect=e.suspect) from None
        except BaseException as e:
            self._deploy_failed(context, task, instance, network_info,
                                str(e), None, rebuild, boot_url)
            raise
        network.remove_boot_options(context, node, boot_url)
        task.reload()

    def _write_and_boot(self, task, instance, image_meta, image,
                        drive_inputs):
        """:param drive_inputs: ``(network_info, injected_files,
            admin_password)`` for the config drive.
        :raises: ImageUnacceptable or BuildAbortException (before power
            on), DeployFailed, ProxyStopping"""
        deploys = self._parts.deploys
        drive = None
        try:
            deploys.check_fits(image_meta, image, task.node)
            drive = deploys.build_configdrive(instance, *drive_inputs,
                                              node=task.node)
            deploys.check_configdrive_fits(image_meta, image, drive)
            self.run_deploy(task, deploys, instance.uuid, image, drive)
        finally:
            deploys.unpin(image)
            deploys.remove_configdrive(drive)

    def run_deploy(self, task, steps, instance_uuid, image, drive=None):
        """The image (and the config drive ``drive``, or none) written by
        the node's ramdisk and booted from its disk: ``deploying`` →
        ``active``.

        :param task: its node with its interfaces loaded.
        :param steps: :class:`~nova_bm.deploy.manager.DeployManager` (or
            the :class:`~nova_bm.deploy.flow.Flow` under it).
        :raises: DeployFailed (no job started when the node has no MAC),
            ProxyStopping
        """
        macs = deploy_flow.interface_macs(task.node)
        job = self.start_job(task, states.DEPLOY,
                             instance_uuid=instance_uuid,
                             image_file=image.name, image_size=image.size,
                             image_sha256=image.sha256,
                             **_drive_fields(drive))
        steps.write_image(task.node, job.id, image)
        self.open_console(task.node)
        steps.boot_from_disk(task.node, job.id)
        try:
            self._set_state(task, states.ACTIVE)
        except BaseException:
            # Not recorded active, so not left running: stopped as after
            # any failed step.
            steps.abandon(task.node, macs)
            raise

    def _deploy_failed(self, context, task, instance, network_info, reason,
                       off_error, rebuild, boot_url, suspect=False):
        node, network = task.node, self._parts.network
        LOG.error('Deploy to node %(node)s failed: %(reason)s',
                  {'node': node.name, 'reason': reason}, instance=instance)
        if rebuild:
            network.remove_boot_options(context, node, boot_url)
        else:
            network.unbind(context, instance, node, network_info)
        maintenance = off_reason(instance.uuid, off_error)
        fault = states.FAULT_POWER_OFF if maintenance else None
        if suspect:
            # Held back until an operator looked: its disk may hold what an
            # impostor wrote; leaving maintenance cleans it.
            maintenance = maintenance or (
                'the deploy of instance %s cannot be trusted: %s'
                % (instance.uuid, reason))
            fault = fault or states.FAULT_CLEAN
        if rebuild:
            self._set_state(task, states.DEPLOY_FAILED, last_error=reason,
                            maintenance_reason=maintenance, fault=fault)
            return
        # A node that may still run (off not confirmed) or hold what an
        # impostor wrote is not being cleaned: it waits for an operator.
        self.release(task, instance, maintenance,
                     provision_state=(states.CLEAN_FAILED if suspect
                                      else after_doubt(node, maintenance)),
                     last_error=reason, fault=fault)

    # -- rebuild ---------------------------------------------------------

    def rebuild(self, context, node, instance, image_meta, network_info,
                injected_files=None, admin_password=None):
        """Redeploy an ``image`` node in place, with a new config drive
        when the instance has one: the node stays with its instance
        (``deploy failed`` if the deploy fails).

        :raises: SpawnFailed, and what the image service or Neutron raised
        """
        self._deploy(context, self._parts.task(node), instance, image_meta,
                     network_info, rebuild=True,
                     injected_files=injected_files,
                     admin_password=admin_password)
        LOG.info('Instance rebuilt on node %s', node.name, instance=instance)

    # -- release and teardown --------------------------------------------

    def release(self, task, instance, maintenance_reason=None,
                provision_state=states.AVAILABLE, last_error=None,
                fault=None):
        """Free the node; ``cleaning`` starts its cleaning at once."""
        node = task.node
        self._parts.consoles.close(node.uuid)
        if maintenance_reason:
            LOG.error('Node %(node)s goes into maintenance: %(reason)s',
                      {'node': node.name, 'reason': maintenance_reason},
                      instance=instance)
        try:
            released = db_api.release_node(
                node.uuid, instance.uuid,
                maintenance_reason=maintenance_reason,
                provision_state=provision_state, last_error=last_error,
                fault=fault)
            node = task.reload()
        except exception.NodeNotFound:
            return
        if released and provision_state == states.CLEANING:
            self._parts.cleanings.resume([node])
        if released:
            task.notify(notifications.RELEASED,
                        released_instance_uuid=instance.uuid)
            if maintenance_reason:
                task.notify(notifications.MAINTENANCE_ON)

    def teardown(self, context, node, instance, network_info):
        """Power the node off and free it.

        A node whose machine cannot be confirmed off is freed from the
        instance (so the delete succeeds) but put in maintenance, so that
        no other tenant gets a machine that may still run this one's OS.
        An ``image`` node goes to ``cleaning`` (reserved in placement) and
        is cleaned in the background before anyone else gets it.
        """
        task = self._parts.task(node)
        reason = None
        try:
            task.run(task.power.power_off)
        except exception.BMC_TROUBLE as e:
            reason = ('power off not confirmed when instance %s was '
                      'deleted: %s' % (instance.uuid, e))
        self._parts.network.unbind(context, instance, node, network_info)
        fault = states.FAULT_POWER_OFF if reason else None
        if node.deploy_interface == states.IMAGE:
            self._parts.deploys.remove_scripts(task.macs())
            # Not being cleaned while it may still run the tenant's system:
            # held for an operator, cleaned when maintenance ends.
            self.release(task, instance, reason,
                         provision_state=after_doubt(node, reason),
                         fault=fault)
        else:
            self.release(task, instance, reason, fault=fault)
        LOG.info('Node %s powered off and released', node.name,
                 instance=instance)

    # -- consoles --------------------------------------------------------

    def open_console(self, node, wait=None):
        """Open the node's console (before it boots its instance, so the
        log starts with the boot); a console that does not open is logged,
        never fatal to the caller."""
        consoles = self._parts.consoles
        if wait is None:
            wait = CONF.baremetal.ipmi_timeout
        try:
            if not consoles.open(node, wait) and wait and consoles.enabled:
                LOG.warning('The serial console of node %s is not open '
                            'yet; its boot may be missing from the '
                            'console log', node.name)
        except Exception as e:
            LOG.warning('Cannot open the serial console of node %s: %s',
                        node.name, e)

    # -- the writes of provision_state -----------------------------------

    @staticmethod
    def start_job(task, mode, **fields):
        """A deploy, clean or inspect job for the node, which enters
        ``deploying``, ``cleaning`` or ``inspecting`` in the same
        statement (with ``expect``: only a node still in that state; else
        None)."""
        return db_api.start_job(task.node.uuid, mode, _JOB_STATES[mode],
                                **fields)

    @staticmethod
    def _set_state(task, state, **fields):
        db_api.set_provision_state(task.node.uuid, state, **fields)
        task.reload()

    def cleaned(self, task, proof=None):
        """The cleaning proved done: the node is ``available``, its proof
        kept (``None``: a cleaning in mode ``none``, which proves nothing
        and keeps the last proof), the operator's requested mode spent."""
        fields = {'clean_request': None}
        if proof is not None:
            fields['last_cleaning'] = proof
        if self._end_cleaning(task, states.AVAILABLE, **fields):
            LOG.info('Node %s cleaned and available', task.node.name)

    def clean_failed(self, task, reason, fault=states.FAULT_CLEAN,
                     proof=None):
        """``clean failed`` and maintenance, with the reason (and what the
        ramdisk did, when it said)."""
        fields = {} if proof is None else {'last_cleaning': proof}
        if self._end_cleaning(task, states.CLEAN_FAILED, last_error=reason,
                              maintenance=True, maintenance_reason=reason,
                              fault=fault, **fields):
            LOG.error('Node %(node)s goes into maintenance: %(reason)s',
                      {'node': task.node.name, 'reason': reason})

    def inspected(self, task, fields, interfaces, inventory, record):
        """The inspection's outcome applied: the node is ``manageable``
        with ``fields`` and ``interfaces``, its inventory and ``record``
        kept; a MAC found that another node has fails it instead.

        :returns: whether the node is manageable now.
        """
        record = dict(record, result='ok', problems=[],
                      finished_at=timeutils.utcnow().isoformat())
        moved, clash = db_api.end_inspection(
            task.node.uuid, states.MANAGEABLE,
            dict(fields, last_inspection=record, last_error=None),
            interfaces, inventory)
        if clash is not None:
            return self.inspect_failed(
                task, 'a MAC found is enrolled already: %s' % clash, record)
        self._after_inspection(task, moved, states.MANAGEABLE)
        if moved:
            LOG.info('Node %(node)s inspected%(set)s', {
                'node': task.node.name,
                'set': ': ' + ', '.join('%s %s' % pair for pair in
                                        sorted(fields.items()))
                if fields else ''})
        return moved

    def inspect_failed(self, task, reason, record):
        """``inspect failed`` with the reason (in ``last_error`` and
        ``record``). :returns: False"""
        record = dict(record, result='failed', problems=[reason],
                      finished_at=timeutils.utcnow().isoformat())
        moved, _ = db_api.end_inspection(
            task.node.uuid, states.INSPECT_FAILED,
            {'last_error': reason, 'last_inspection': record})
        self._after_inspection(task, moved, states.INSPECT_FAILED)
        if moved:
            LOG.error('The inspection of node %(node)s failed: %(reason)s',
                      {'node': task.node.name, 'reason': reason})
        return False

    @staticmethod
    def _after_inspection(task, moved, state):
        task.reload()
        if not moved:
            LOG.warning('The inspection of node %(node)s ended (%(state)s), '
                        'but the node is %(now)s now: left as it is',
                        {'node': task.node.name, 'state': state,
                         'now': task.node.provision_state})

    @staticmethod
    def _end_cleaning(task, state, **fields):
        """Only a node still ``cleaning`` takes its cleaning's outcome: an
        operator's command or a restart may have superseded it."""
        moved = db_api.end_cleaning(task.node.uuid, state, **fields)
        task.reload()
        if not moved:
            LOG.warning('The cleaning of node %(node)s ended (%(state)s), '
                        'but the node is %(now)s now: left as it is',
                        {'node': task.node.name, 'state': state,
                         'now': task.node.provision_state})
        return moved
