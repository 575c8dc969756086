"""The Nova virt driver: one nova-compute service, many bare-metal nodes.

nova-compute loads it with ``compute_driver = nova_bm.BareMetalDriver``
(through the shim ``nova/virt/nova_bm``). It reports each node this proxy
owns as a compute node of its own (``hypervisor_hostname`` = the node's
name), the way Nova's ironic driver reports Ironic nodes.

Translation only, as Nova's ironic driver is over Ironic's API: each method
validates what Nova hands it, calls the proxy layer
(:class:`nova_bm.proxy.manager.Proxy`), which is where a node changes
state, and maps the outcome to what Nova's compute manager expects (its
power states, its exceptions).
"""

import sys

from nova.compute import power_state
from nova.compute import task_states
from nova import context as nova_context
from nova.console import type as console_type
from nova import exception as nova_exception
from nova import objects
import nova.virt.driver
from nova.virt import hardware
from oslo_log import log as logging

from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm import exception
from nova_bm.proxy import manager as proxy_manager
from nova_bm.proxy import provision
from nova_bm.proxy import rebalance

LOG = logging.getLogger(__name__)

_NOVA_POWER_STATES = {
    states.POWER_ON: power_state.RUNNING,
    states.POWER_OFF: power_state.SHUTDOWN,
}

_DATABASE_TROUBLE = (exception.DatabaseUnavailable,
                     exception.DatabaseNotReady)


def nova_power_state(state):
    """Nova's power state for a BMC's answer (None: unknown)."""
    return _NOVA_POWER_STATES.get(state, power_state.NOSTATE)


def _not_ready(error):
    """A node database out of reach: Nova logs VirtDriverNotReady and
    retries at its next cycle, as it does when Ironic's API is down."""
    LOG.error('Node database not usable: %s', error)
    return nova_exception.VirtDriverNotReady()


class BareMetalDriver(nova.virt.driver.ComputeDriver):
    """Bare-metal nodes as Nova compute nodes, powered over IPMI."""

    # What a bare-metal node can do: whole-disk raw and qcow2 images are
    # written to its disk (nodes on the "image" deploy interface), through
    # a cache on the proxy; a Neutron port can be attached to a free NIC;
    # no migration, no attaching devices (the base class's False; Nova
    # handles the NotImplementedError of the operations behind these).
    capabilities = dict(nova.virt.driver.ComputeDriver.capabilities,
                        supports_image_type_raw=True,
                        supports_image_type_qcow2=True,
                        has_imagecache=True,
                        supports_attach_interface=True)

    # Static ownership: a node belongs to the proxy named in its
    # service_host and never moves between compute services by itself.
    # In hash_ring mode the instance says True (see __init__).
    rebalances_nodes = False

    def __init__(self, virtapi, read_only=False, power=None):
        """Refuse to load, with one line, if an option has a bad value.

        Like Nova's own ``load_compute_driver`` for a driver it cannot
        load, nova-compute then exits with status 1 at start, instead of
        a traceback in its first periodic task.
        """
        super().__init__(virtapi)
        problem = proxy_manager.configuration_problem()
        if problem:
            # Logged outside the except block: oslo.log appends the
            # exception being handled to an ERROR line, repeating it.
            LOG.error('nova-bm cannot start: %s', problem)
            sys.exit(1)
        self._proxy = proxy_manager.Proxy(power)
        self.rebalances_nodes = (
            CONF.baremetal.ownership == rebalance.HASH_RING)

    # -- service life ----------------------------------------------------

    def init_host(self, host):
        try:
            self._proxy.start(host)
        except exception.ConfigInvalid as e:
            LOG.error('nova-bm cannot start: %s', e.kwargs['reason'])
            sys.exit(1)

    def cleanup_host(self, host):
        self._proxy.stop()

    def sync_power_states(self):
        """One sweep over every owned node (run every ``[baremetal]
        power_sync_interval`` seconds by the proxy). :returns: ``{node
        uuid: state | error}``."""
        return self._proxy.sync_power_states()

    def _reconcile(self, take_share=False):
        try:
            return self._proxy.cycle.reconcile(take_share)
        except _DATABASE_TROUBLE as e:
            raise _not_ready(e) from None

    # -- nodes and resources (Nova's multi-node contract) -----------------

    def get_available_nodes(self, refresh=False):
        """Names of the nodes this proxy owns, maintenance ones included.

        Nova calls this first in each resource cycle, so this is where the
        cycle's single query runs, after this proxy has reported itself
        and, in hash_ring mode, taken its share
        (:mod:`nova_bm.proxy.rebalance`).
        """
        return [node.name for node in self._reconcile(take_share=True)]

    def get_nodenames_by_uuid(self, refresh=False):
        # Nova calls this once, when nova-compute starts: ask the database.
        return {node.uuid: node.name for node in self._reconcile()}

    def node_is_available(self, nodename):
        return self._proxy.node(nodename) is not None

    def is_node_deleted(self, nodename):
        """True only when the node is gone from the node database.

        Nova then deletes its compute node and resource provider; a node
        merely moved to another proxy is not deleted.
        """
        return self._proxy.node_deleted(nodename)

    def _owned_node(self, nodename):
        node = self._proxy.node(nodename)
        if node is None:
            raise nova_exception.ComputeHostNotFound(host=nodename)
        return node

    def get_available_resource(self, nodename):
        return self._proxy.resources(self._owned_node(nodename))

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        """One unit of the node's resource class, and the node's traits
        (with its boot mode's, ``COMPUTE_FIRMWARE_UEFI`` or ``_BIOS``).

        The unit is reserved while the node is in maintenance or its BMC is
        failing, so placement offers it to no one. With
        ``[baremetal] report_standard_inventory`` the node's VCPU,
        MEMORY_MB and DISK_GB come with it (see resources.inventory).
        """
        node = self._owned_node(nodename)
        provider_tree.update_inventory(nodename, self._proxy.inventory(node))
        provider_tree.update_traits(nodename, self._proxy.traits(node))

    def get_host_stats(self, refresh=False):
        """One dict per node, ``host`` = ``<CONF.host>/<node name>``."""
        return self._proxy.host_stats(self._proxy.nodes(refresh))

    # -- instances -------------------------------------------------------

    def list_instance_uuids(self):
        return self._proxy.instance_uuids()

    def list_instances(self):
        """Names of the instances on this proxy's nodes (two queries)."""
        uuids = self.list_instance_uuids()
        if not uuids:
            return []
        instances = objects.InstanceList.get_by_filters(
            nova_context.get_admin_context(), {'uuid': uuids},
            expected_attrs=[])
        return [instance.name for instance in instances]

    def get_num_instances(self):
        return len(self.list_instance_uuids())

    def instance_exists(self, instance):
        return self._proxy.instance_node(instance.uuid) is not None

    def _node_of(self, instance):
        node = self._proxy.instance_node(instance.uuid)
        if node is None:
            raise nova_exception.InstanceNotFound(instance_id=instance.uuid)
        return node

    def get_info(self, instance, use_cache=True):
        """The instance's power state: from the last sweep, or asked now.

        :raises: InstanceNotFound when no node of this proxy holds the
            instance (Nova's contract; its manager reads that as NOSTATE).
        """
        node, state = self._proxy.power_state(instance.uuid, use_cache)
        if node is None:
            raise nova_exception.InstanceNotFound(instance_id=instance.uuid)
        return hardware.InstanceInfo(state=nova_power_state(state))

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        """Claim the node, then deploy the image to it (``image`` nodes)
        or boot it from the network (``netboot`` nodes).

        What the image deploy refuses is refused before the claim. Any
        failure after the claim leaves the node released (to be cleaned,
        if the ramdisk may have written to it) before raising, so Nova can
        reschedule the instance elsewhere; a deploy that cannot be trusted
        is not rescheduled.
        """
        try:
            self._proxy.provisioner.spawn(
                context, instance, image_meta, network_info, power_on,
                injected_files=injected_files, admin_password=admin_password)
        except provision.ClaimRefused as e:
            raise nova_exception.ComputeResourcesUnavailable(
                reason=e.reason) from None
        except provision.SpawnFailed as e:
            raise self._deploy_failure(instance, e) from None

    @staticmethod
    def _deploy_failure(instance, error):
        if error.suspect:
            # Something other than the node's ramdisk spoke for it: the
            # server goes to ERROR with the reason, not to another node
            # where the same impostor may be waiting.
            return nova_exception.BuildAbortException(
                instance_uuid=instance.uuid, reason=error.reason)
        return nova_exception.InstanceDeployFailure(reason=error.reason)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        """Power the node off and free it; a no-op when nothing is held
        (see :meth:`nova_bm.proxy.provision.Provisioner.teardown`)."""
        if self._proxy.stopping():
            # A spawn cut short by the proxy's own shutdown: the next start
            # recovers the node (nova_bm.proxy.cycle).
            LOG.warning('nova-compute is stopping; the node is left to '
                        'the next start', instance=instance)
            return
        node = self._proxy.instance_node(instance.uuid)
        if node is None:
            LOG.info('No node holds the instance; nothing to destroy',
                     instance=instance)
            return
        self._proxy.provisioner.teardown(context, node, instance,
                                         network_info)

    def rebuild(self, context, instance, image_meta, injected_files,
                admin_password, allocations, bdms, detach_block_devices,
                attach_block_devices, network_info=None,
                evacuate=False, block_device_info=None,
                preserve_ephemeral=False, accel_uuids=None,
                reimage_boot_volume=False):
        """Redeploy an ``image`` node in place: the node stays with its
        instance (Nova's default would destroy and spawn, releasing it).
        ``netboot`` nodes take Nova's default (power off, release, claim
        the same node again)."""
        node = self._node_of(instance)
        if node.deploy_interface != states.IMAGE:
            raise NotImplementedError()
        if preserve_ephemeral:
            raise nova_exception.PreserveEphemeralNotSupported()
        try:
            self._proxy.provisioner.check_image(instance, image_meta, node)
        except nova_exception.ImageUnacceptable as e:
            # Refused before anything began: the server keeps its state
            # (Nova's rollback), the reason is its fault.
            raise nova_exception.InstanceFaultRollback(
                inner_exception=e) from None
        instance.task_state = task_states.REBUILD_SPAWNING
        instance.save(expected_task_state=[task_states.REBUILDING])
        try:
            self._proxy.provisioner.rebuild(
                context, node, instance, image_meta, network_info,
                injected_files=injected_files, admin_password=admin_password)
        except provision.SpawnFailed as e:
            raise self._deploy_failure(instance, e) from None

    # -- networking (nova_bm.network) ------------------------------------

    def network_binding_host_id(self, context, instance):
        """None: Nova creates the ports unbound; spawn binds each to one of
        the node's NICs (``binding:host_id`` = the node's UUID)."""
        return None

    def manages_network_binding_host_id(self):
        """True: Nova's info-cache healing must not bind the ports back to
        the proxy host."""
        return True

    def attach_interface(self, context, instance, image_meta, vif):
        """Put the port on a free NIC of the instance's node.

        :raises: InterfaceAttachFailed (saying why) when none is free
        """
        self._proxy.network.attach(context, instance,
                                   self._node_of(instance), vif)

    def detach_interface(self, context, instance, vif):
        """Unbind the port from its NIC (the NIC is free again)."""
        node = self._proxy.instance_node(instance.uuid)
        if node is not None:
            self._proxy.network.detach(context, instance, node, vif)

    def manage_image_cache(self, context, all_instances):
        """Evict deploy images by age and size (Nova's image cache
        manager calls this every [image_cache] manager_interval)."""
        self._proxy.deploys.manage_cache()

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        """Nothing on the proxy to clean: destroy did everything."""

    # -- power -----------------------------------------------------------

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):
        """Soft: orderly shutdown then power on, hard reset if that fails."""
        self._proxy.reboot(self._node_of(instance), reboot_type == 'SOFT',
                           instance=instance)

    def power_off(self, instance, timeout=0, retry_interval=0):
        """Soft power off within ``timeout`` s when given, then hard."""
        self._proxy.power_off(self._node_of(instance), timeout,
                              instance=instance)

    def power_on(self, context, instance, network_info,
                 block_device_info=None, accel_info=None, share_info=None):
        self._proxy.power_on(self._node_of(instance))

    # -- console (nova_bm.console) ---------------------------------------

    def get_console_output(self, context, instance):
        """The last ``[baremetal] console_log_bytes`` of the node's
        console since its instance booted (IPMI Serial-over-LAN)."""
        return self._proxy.consoles.output(self._node_of(instance).uuid)

    def get_serial_console(self, context, instance):
        """Where nova-serialproxy reaches the node's console: a TCP port
        on ``[serial_console] proxyclient_address``, bridged to SOL."""
        host, port = self._proxy.consoles.serial_endpoint(
            self._node_of(instance).uuid)
        return console_type.ConsoleSerial(host=host, port=port)
