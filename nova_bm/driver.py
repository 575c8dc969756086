"""The Nova virt driver: one nova-compute service, many bare-metal nodes.

nova-compute loads it with ``compute_driver = nova_bm.BareMetalDriver``
(through the shim ``nova/virt/nova_bm``). It owns the nodes whose
``service_host`` is this service's ``CONF.host`` (which, with ``[baremetal]
ownership = hash_ring``, :mod:`nova_bm.rebalance` moves among the proxies)
and reports each as a compute node of its own (``hypervisor_hostname`` =
the node's name), the way Nova's ironic driver reports Ironic nodes. It
stays thin: what Nova is told comes from :mod:`nova_bm.resources`, the
nodes from :mod:`nova_bm.node_cache` (one query per resource cycle), BMC
answers from :mod:`nova_bm.power_sync` and the power layer, and every write
goes through :mod:`nova_bm.db.api`.
"""

import os
import sys

from nova.compute import power_state
from nova.compute import task_states
from nova import context as nova_context
from nova.console import type as console_type
from nova import exception as nova_exception
from nova import objects
import nova.utils
import nova.virt.driver
from nova.virt import hardware
import nova.virt.node
from oslo_log import log as logging
from oslo_utils import uuidutils

from nova_bm.common import states
from nova_bm.conf import check as conf_check
from nova_bm.conf import CONF
from nova_bm.console import manager as console_manager
from nova_bm.console import tcp as console_tcp
from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow
from nova_bm.deploy import image_checks
from nova_bm.deploy import manager as deploy_manager
from nova_bm import exception
from nova_bm.network import ports as network_ports
from nova_bm import node_cache
from nova_bm import node_events
from nova_bm import notifications
from nova_bm.power import base as power_base
from nova_bm.power import ipmi
from nova_bm import power_sync
from nova_bm import rebalance
from nova_bm import resources

LOG = logging.getLogger(__name__)

_NOVA_POWER_STATES = {
    power_base.POWER_ON: power_state.RUNNING,
    power_base.POWER_OFF: power_state.SHUTDOWN,
}

#: The boot device a node is given for its instance: the machine boots its
#: operating system from the network, as prepared by the cloud's PXE
#: service, on every boot of this instance.
BOOT_DEVICE = 'pxe'

# What the power layer raises when a node's BMC cannot do what was asked:
# it failed or refused, or the node's BMC parameters are unusable.


def nova_power_state(state):
    """Nova's power state for a BMC's answer (None: unknown)."""
    return _NOVA_POWER_STATES.get(state, power_state.NOSTATE)


def _configuration_problem():
    """What makes the configuration unusable, as one line, or None."""
    try:
        conf_check.check_options(CONF, conf_check.DRIVER_GROUPS)
        db_api.check_connection_url()
        deploy_manager.bind_address()
        console_tcp.allowed_clients()
    except exception.ConfigInvalid as e:
        return e.kwargs['reason']
    return None


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
        problem = _configuration_problem()
        if problem:
            # Logged outside the except block: oslo.log appends the
            # exception being handled to an ERROR line, repeating it.
            LOG.error('nova-bm cannot start: %s', problem)
            sys.exit(1)
        self._power = power or ipmi.IPMIPower()
        self._cache = node_cache.NodeCache(CONF.host)
        self._notifier = None
        self._sync = power_sync.PowerSync(self._power, notify=self._notify)
        self._consoles = console_manager.ConsoleManager()
        self._deploys = deploy_manager.DeployManager(
            self._power, self._sync.record, before_boot=self._open_console)
        self._network = network_ports.PortBinder()
        self._events_server = None
        self.rebalances_nodes = (
            CONF.baremetal.ownership == rebalance.HASH_RING)
        self._rebalancer = self._new_rebalancer(CONF.host)

    @staticmethod
    def _new_rebalancer(host):
        return rebalance.Rebalancer(host, CONF.baremetal.ownership,
                                    CONF.baremetal.partition_key)

    # -- service life ----------------------------------------------------

    def init_host(self, host):
        """Know the nodes and their BMCs before Nova's first cycle.

        One sweep runs here, so that a node whose BMC does not answer is
        reserved from the very first inventory Nova reports; it costs at
        most one IPMI timeout, whatever the number of nodes.
        """
        self._cache = node_cache.NodeCache(host)
        self._rebalancer = self._new_rebalancer(host)
        self._notifier = notifications.Notifier(host)
        self._ensure_proxy_identity()
        try:
            self._deploys.start()
        except exception.ConfigInvalid as e:
            LOG.error('nova-bm cannot start: %s', e.kwargs['reason'])
            sys.exit(1)
        try:
            nodes = self._refresh(take_share=True)
        except nova_exception.VirtDriverNotReady:
            nodes = []  # logged; Nova retries every resource cycle
        else:
            LOG.info('Proxy %(host)s owns %(count)d bare-metal nodes',
                     {'host': host, 'count': len(nodes)})
        if nodes:
            self._sync.sweep(nodes)
            self._recover_deploys(nodes)
        self._sync.start(CONF.baremetal.power_sync_interval,
                         self.sync_power_states)
        self._events_server = node_events.start_server(
            host, self._nodes_changed,
            'threading' if nova.utils.concurrency_mode_threading()
            else 'eventlet')

    def cleanup_host(self, host):
        self._sync.stop()
        server, self._events_server = self._events_server, None
        if server is not None:
            server.stop()
            server.wait()
        self._deploys.stop()
        self._consoles.close_all()

    def _nodes_changed(self, uuids):
        """nova-bm-manage changed nodes: reload them now, not next cycle."""
        try:
            self._refresh(take_share=True)
        except nova_exception.VirtDriverNotReady:
            pass  # logged; the next cycle tries again

    def _notify(self, event_type, node, **extra):
        if self._notifier is not None:
            self._notifier.emit(event_type, node, **extra)

    def sync_power_states(self):
        """One sweep over every owned node: one query, one bulk IPMI call.

        Run every ``[baremetal] power_sync_interval`` seconds by a thread of
        the driver. :returns: ``{node uuid: state | error}``.
        """
        return self._sync.sweep(self._cache.refresh())

    def _refresh(self, take_share=False):
        """Reload the node cache, after taking this proxy's share of the
        nodes when ``take_share``; a node database that cannot be reached
        is Nova's VirtDriverNotReady, which Nova logs and retries on at the
        next cycle, as it does when Ironic's API is down."""
        try:
            if take_share:
                self._rebalance()
            nodes = self._cache.refresh()
        except (exception.DatabaseUnavailable,
                exception.DatabaseNotReady) as e:
            LOG.error('Node database not usable: %s', e)
            raise nova_exception.VirtDriverNotReady() from None
        self._deploys.resume(nodes)
        self._follow_consoles(nodes)
        return nodes

    def _follow_consoles(self, nodes):
        """Consoles for the deployed nodes this proxy owns, none for the
        others: opened at start (and when a node moves here, or its BMC
        credentials change), closed when a node moves away. Dictionary
        work only: no query, no BMC call."""
        owned = set()
        for node in nodes:
            if not node.instance_uuid:
                continue
            owned.add(node.uuid)
            if node.provision_state == db_api.ACTIVE:
                self._open_console(node, wait=0)
        self._consoles.close_others(owned)

    def _recover_deploys(self, nodes):
        """At start: deploys no process runs any more end; their nodes
        are released and cleaned (see DeployManager.recover)."""
        for node, instance_uuid, off_error in self._deploys.recover(nodes):
            instance = _InstanceRef(instance_uuid)
            # Nova deallocated the ports when the spawn failed, without
            # this driver (it was stopping): they still carry the node's
            # MACs. No network_info now: every MAC is reset (a port Nova
            # made is gone or about to be).
            self._network.unbind(nova_context.get_admin_context(), instance,
                                 node, network_info=None)
            self._release(node, instance,
                          self._off_reason(instance_uuid, off_error),
                          provision_state=self._after_use())
        self._deploys.resume(self._cache.refresh())

    def _rebalance(self):
        try:
            self._rebalancer.run()
        except (exception.DatabaseUnavailable, exception.DatabaseNotReady):
            raise
        except Exception as e:
            # Nova's conductor or database not answering: keep the nodes
            # this proxy has, and try again next cycle.
            LOG.warning('Could not rebalance the nodes this cycle: %s', e)

    @staticmethod
    def _ensure_proxy_identity():
        """Give this proxy the local identity file Nova requires.

        Nova 34 refuses to start a compute service a second time unless a
        ``compute_id`` file exists under ``state_path``
        (``ComputeManager._ensure_existing_node_identity``); it is the
        identity of single-node drivers, which lose it with the host, and
        only drivers named "ironic" are exempt. This driver's compute nodes
        take their UUIDs from the node database, which outlives the proxy,
        so the file carries no node's identity: it names the proxy, and is
        written once, at the first start.
        """
        if nova.virt.node.read_local_node_uuid() is None:
            nova.virt.node.write_local_node_uuid(
                uuidutils.generate_uuid())
            LOG.info('Wrote the proxy identity file %s',
                     os.path.join(CONF.state_path,
                                  nova.virt.node.COMPUTE_ID_FILE))

    # -- nodes and resources (Nova's multi-node contract) -----------------

    def get_available_nodes(self, refresh=False):
        """Names of the nodes this proxy owns, maintenance ones included.

        Nova calls this first in each resource cycle, so this is where the
        cycle's single query runs, after this proxy has reported itself
        and, in hash_ring mode, taken its share (:mod:`nova_bm.rebalance`).
        """
        return [node.name for node in self._refresh(take_share=True)]

    def get_nodenames_by_uuid(self, refresh=False):
        # Nova calls this once, when nova-compute starts: ask the database.
        nodes = self._refresh()
        return {node.uuid: node.name for node in nodes}

    def node_is_available(self, nodename):
        return self._cache.get(nodename) is not None

    def is_node_deleted(self, nodename):
        """True only when the node is gone from the node database.

        Nova then deletes its compute node and resource provider; a node
        merely moved to another proxy is not deleted.
        """
        try:
            db_api.get_node(nodename)
        except exception.NodeNotFound:
            return True
        return False

    def _owned_node(self, nodename):
        node = self._cache.get(nodename)
        if node is None:
            raise nova_exception.ComputeHostNotFound(host=nodename)
        return node

    def get_available_resource(self, nodename):
        node = self._owned_node(nodename)
        return resources.node_resources(node, self._sync.failing(node.uuid))

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        """One unit of the node's resource class, and the node's traits.

        The unit is reserved while the node is in maintenance or its BMC is
        failing, so placement offers it to no one. With
        ``[baremetal] report_standard_inventory`` the node's VCPU,
        MEMORY_MB and DISK_GB come with it (see resources.inventory).
        """
        node = self._owned_node(nodename)
        provider_tree.update_inventory(nodename, resources.inventory(
            node, self._sync.failing(node.uuid),
            standard=CONF.baremetal.report_standard_inventory))
        provider_tree.update_traits(nodename, node.traits)

    def get_host_stats(self, refresh=False):
        """One dict per node, ``host`` = ``<CONF.host>/<node name>``."""
        nodes = self._cache.refresh() if refresh else self._cache.nodes()
        return [resources.host_stats(self._cache.host, node,
                                     self._sync.failing(node.uuid))
                for node in nodes]

    # -- instances -------------------------------------------------------

    def list_instance_uuids(self):
        return db_api.list_instance_uuids(self._cache.host)

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
        return self._instance_node(instance) is not None

    def _instance_node(self, instance):
        node = db_api.get_node_by_instance(instance.uuid)
        if node is not None and node.service_host != self._cache.host:
            return None
        return node

    def _node_of(self, instance):
        node = self._instance_node(instance)
        if node is None:
            raise nova_exception.InstanceNotFound(instance_id=instance.uuid)
        return node

    def get_info(self, instance, use_cache=True):
        """The instance's power state: from the last sweep, or asked now.

        With ``use_cache`` (Nova's power-state sync asks once per instance)
        the node comes from the node cache, so the sync costs no query per
        instance; the node database is asked only for an instance the
        cache does not know.

        :raises: InstanceNotFound when no node of this proxy holds the
            instance (Nova's contract; its manager reads that as NOSTATE).
        """
        node = self._cache.holding(instance.uuid) if use_cache else None
        if node is None:
            node = self._node_of(instance)
        if use_cache and (self._sync.state(node.uuid) is not None
                          or self._sync.failing(node.uuid)):
            return hardware.InstanceInfo(
                state=nova_power_state(self._sync.state(node.uuid)))
        try:
            state = self._power.get_power_state(node)
        except exception.BMC_TROUBLE as e:
            self._remember_error(node, e)
            return hardware.InstanceInfo(state=power_state.NOSTATE)
        self._sync.record(node, state)
        return hardware.InstanceInfo(state=nova_power_state(state))

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        """Claim the node, then deploy the image to it (``image`` nodes)
        or boot it from the network (``netboot`` nodes).

        What the image deploy refuses is refused before the claim. Any
        failure after the claim powers the node off and releases it (to
        be cleaned, if the ramdisk may have written to it) before
        raising, so Nova can reschedule the instance elsewhere.
        """
        node = self._cache.get(instance.node)
        if node is not None and node.deploy_interface == states.IMAGE:
            image_checks.check_request(instance, image_meta)
            image_checks.check_declared_size(image_meta, node)
        if node is not None and network_info:
            self._network.check(
                db_api.get_node(node.uuid, with_interfaces=True),
                network_info)
        node = self._claim(instance)
        if node.deploy_interface == states.IMAGE:
            self._deploy(context, node, instance, image_meta, network_info)
        else:
            self._netboot(context, node, instance, power_on, network_info)
        LOG.info('Instance is on node %s', node.name, instance=instance)

    def _open_console(self, node, wait=None):
        """Open the node's console (before it boots its instance, so the
        log starts with the boot); a console that does not open is logged,
        never fatal to the caller."""
        if wait is None:
            wait = CONF.baremetal.ipmi_timeout
        try:
            if not self._consoles.open(node, wait) and wait and (
                    self._consoles.enabled):
                LOG.warning('The serial console of node %s is not open '
                            'yet; its boot may be missing from the '
                            'console log', node.name)
        except Exception as e:
            LOG.warning('Cannot open the serial console of node %s: %s',
                        node.name, e)

    def _netboot(self, context, node, instance, power_on, network_info):
        try:
            self._network.bind(
                context, instance,
                db_api.get_node(node.uuid, with_interfaces=True),
                network_info)
        except BaseException:
            self._undo_claim(node, instance)
            raise
        try:
            self._power.set_boot_device(node, BOOT_DEVICE, persistent=True)
            self._open_console(node)
            if power_on:
                self._sync.record(node, self._power.power_on(node))
            db_api.set_provision_state(node.uuid, db_api.ACTIVE)
        except exception.BMC_TROUBLE as e:
            self._remember_error(node, e)
            self._network.unbind(context, instance, node, network_info)
            self._undo_claim(node, instance)
            raise nova_exception.InstanceDeployFailure(
                reason='node %s: %s' % (node.name, e)) from None
        except BaseException:
            self._network.unbind(context, instance, node, network_info)
            self._undo_claim(node, instance)
            raise

    def _deploy(self, context, node, instance, image_meta, network_info=None,
                rebuild=False):
        """Fetch the image, bind the ports (the boot NIC's with the iPXE
        DHCP options), write the image, boot it. On failure the node is
        off; a spawn's node is released to be cleaned and its ports
        unbound, a rebuild's stays with its instance (``deploy failed``),
        which Nova puts in ERROR."""
        try:
            image = self._deploys.fetch(context, image_meta)
        except BaseException:
            if not rebuild:
                self._release(node, instance)  # nothing was written
            raise
        boot_url = self._deploys.boot_url
        try:
            node = db_api.get_node(node.uuid, with_interfaces=True)
            if rebuild:
                self._network.boot_options(context, node, boot_url)
            else:
                self._network.bind(context, instance, node, network_info,
                                   boot_url)
        except BaseException:
            self._deploys.images.unpin(image)
            if not rebuild:
                self._release(node, instance)  # nothing was written
            raise
        try:
            self._deploys.deploy(node, instance, image_meta, image)
        except deploy_flow.ProxyStopping:
            raise nova_exception.InstanceDeployFailure(
                reason='nova-compute stopped during the deploy') from None
        except nova_exception.ImageUnacceptable:
            # Refused before power on: nothing was written.
            if rebuild:
                self._network.remove_boot_options(context, node, boot_url)
            else:
                self._network.unbind(context, instance, node, network_info)
                self._release(node, instance)
            raise
        except deploy_flow.DeployFailed as e:
            self._deploy_failed(context, node, instance, network_info,
                                e.reason, e.off_error, rebuild, boot_url,
                                e.suspect)
            reason = 'node %s: %s' % (node.name, e.reason)
            if e.suspect:
                # Something other than the node's ramdisk spoke for it: the
                # server goes to ERROR with the reason, not to another node
                # where the same impostor may be waiting.
                raise nova_exception.BuildAbortException(
                    instance_uuid=instance.uuid, reason=reason) from None
            raise nova_exception.InstanceDeployFailure(
                reason=reason) from None
        except BaseException as e:
            self._deploy_failed(context, node, instance, network_info,
                                str(e), None, rebuild, boot_url)
            raise
        self._network.remove_boot_options(context, node, boot_url)
        self._cache.put(db_api.get_node(node.uuid))

    def _deploy_failed(self, context, node, instance, network_info, reason,
                       off_error, rebuild, boot_url, suspect=False):
        LOG.error('Deploy to node %(node)s failed: %(reason)s',
                  {'node': node.name, 'reason': reason}, instance=instance)
        if rebuild:
            self._network.remove_boot_options(context, node, boot_url)
        else:
            self._network.unbind(context, instance, node, network_info)
        maintenance = self._off_reason(instance.uuid, off_error)
        if suspect:
            # Held back until an operator looked: its disk may hold what an
            # impostor wrote; leaving maintenance cleans it.
            maintenance = maintenance or (
                'the deploy of instance %s cannot be trusted: %s'
                % (instance.uuid, reason))
            if not rebuild:
                self._release(node, instance, maintenance,
                              provision_state=db_api.CLEAN_FAILED,
                              last_error=reason)
                return
        if rebuild:
            db_api.set_provision_state(
                node.uuid, db_api.DEPLOY_FAILED, last_error=reason,
                maintenance_reason=maintenance)
            self._cache.put(db_api.get_node(node.uuid))
            return
        self._release(node, instance, maintenance,
                      provision_state=self._after_use(), last_error=reason)

    @staticmethod
    def _off_reason(instance_uuid, off_error):
        if off_error is None:
            return None
        return ('power off not confirmed after the deploy of instance %s '
                'failed: %s' % (instance_uuid, off_error))

    @staticmethod
    def _after_use():
        """The state of an ``image`` node its instance left."""
        if CONF.baremetal.automated_clean == 'none':
            return db_api.AVAILABLE
        return db_api.CLEANING

    def _claim(self, instance):
        """Give ``instance.node`` to the instance, or say why not.

        :raises: ComputeResourcesUnavailable, on which Nova reschedules.
        """
        node = self._cache.get(instance.node)
        if node is None:
            raise nova_exception.ComputeResourcesUnavailable(
                reason='node %s is not managed by %s'
                % (instance.node, self._cache.host))
        if self._sync.failing(node.uuid):
            raise nova_exception.ComputeResourcesUnavailable(
                reason='the BMC of node %s is failing: %s'
                % (node.name, self._sync.error(node.uuid)))
        try:
            node = db_api.claim_node(node.uuid, instance.uuid,
                                     service_host=self._cache.host)
        except (exception.NodeNotAvailable, exception.NodeNotFound) as e:
            raise nova_exception.ComputeResourcesUnavailable(
                reason=str(e)) from None
        self._cache.put(node)
        self._notify(notifications.CLAIMED, node)
        return node

    def _undo_claim(self, node, instance):
        """After a failed spawn: power off if possible, then release."""
        reason = None
        try:
            self._sync.record(node, self._power.power_off(node))
        except exception.BMC_TROUBLE as e:
            reason = ('power off not confirmed after a failed spawn of '
                      'instance %s: %s' % (instance.uuid, e))
        self._release(node, instance, reason)

    def _release(self, node, instance, maintenance_reason=None,
                 provision_state=db_api.AVAILABLE, last_error=None):
        """Free the node; ``cleaning`` starts its cleaning at once."""
        self._consoles.close(node.uuid)
        if maintenance_reason:
            LOG.error('Node %(node)s goes into maintenance: %(reason)s',
                      {'node': node.name, 'reason': maintenance_reason},
                      instance=instance)
        try:
            released = db_api.release_node(
                node.uuid, instance.uuid,
                maintenance_reason=maintenance_reason,
                provision_state=provision_state, last_error=last_error)
            node = db_api.get_node(node.uuid)
        except exception.NodeNotFound:
            return
        self._cache.put(node)
        if released and provision_state == db_api.CLEANING:
            self._deploys.resume([node])
        if released:
            self._notify(notifications.RELEASED, node,
                         released_instance_uuid=instance.uuid)
            if maintenance_reason:
                self._notify(notifications.MAINTENANCE_ON, node)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        """Power the node off and free it; a no-op when nothing is held.

        A node whose machine cannot be confirmed off is freed from the
        instance (so the delete succeeds) but put in maintenance, so that
        no other tenant gets a machine that may still run this one's OS.
        An ``image`` node goes to ``cleaning`` (reserved in placement) and
        is cleaned in the background before anyone else gets it.
        """
        if self._deploys.stopped:
            # A spawn cut short by the proxy's own shutdown: the next start
            # recovers the node (DeployManager.recover).
            LOG.warning('nova-compute is stopping; the node is left to '
                        'the next start', instance=instance)
            return
        node = self._instance_node(instance)
        if node is None:
            LOG.info('No node holds the instance; nothing to destroy',
                     instance=instance)
            return
        reason = None
        try:
            self._sync.record(node, self._power.power_off(node))
        except exception.BMC_TROUBLE as e:
            self._remember_error(node, e)
            reason = ('power off not confirmed when instance %s was '
                      'deleted: %s' % (instance.uuid, e))
        self._network.unbind(context, instance, node, network_info)
        if node.deploy_interface == states.IMAGE:
            node = db_api.get_node(node.uuid, with_interfaces=True)
            self._deploys.scripts.remove(
                [interface.address for interface in node.interfaces])
            self._release(node, instance, reason,
                          provision_state=self._after_use())
        else:
            self._release(node, instance, reason)
        LOG.info('Node %s powered off and released', node.name,
                 instance=instance)

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
        image_checks.check_request(instance, image_meta)
        instance.task_state = task_states.REBUILD_SPAWNING
        instance.save(expected_task_state=[task_states.REBUILDING])
        self._deploy(context, node, instance, image_meta, network_info,
                     rebuild=True)
        LOG.info('Instance rebuilt on node %s', node.name,
                 instance=instance)

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
        self._network.attach(context, instance, self._node_of(instance), vif)

    def detach_interface(self, context, instance, vif):
        """Unbind the port from its NIC (the NIC is free again)."""
        node = self._instance_node(instance)
        if node is not None:
            self._network.detach(context, instance, node, vif)

    def manage_image_cache(self, context, all_instances):
        """Evict deploy images by age and size (Nova's image cache
        manager calls this every [image_cache] manager_interval)."""
        self._deploys.manage_cache()

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        """Nothing on the proxy to clean: destroy did everything."""

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):
        """Soft: orderly shutdown then power on, hard reset if that fails."""
        node = self._node_of(instance)
        if reboot_type == 'SOFT':
            try:
                self._run(node, self._power.reboot, node, power_base.SOFT)
                return
            except (exception.PowerStateTimeout,
                    exception.BmcCommandRefused) as e:
                LOG.warning('Soft reboot of node %(node)s failed (%(error)s)'
                            '; resetting it', {'node': node.name, 'error': e},
                            instance=instance)
        self._run(node, self._power.reboot, node, power_base.HARD)

    def power_off(self, instance, timeout=0, retry_interval=0):
        """Soft power off within ``timeout`` s when given, then hard."""
        node = self._node_of(instance)
        if timeout:
            try:
                self._run(node, self._power.soft_power_off, node, timeout)
                return
            except (exception.PowerStateTimeout,
                    exception.BmcCommandRefused) as e:
                LOG.warning('Node %(node)s did not shut down within '
                            '%(timeout)s s (%(error)s); powering it off',
                            {'node': node.name, 'timeout': timeout,
                             'error': e}, instance=instance)
        self._run(node, self._power.power_off, node)

    def power_on(self, context, instance, network_info,
                 block_device_info=None, accel_info=None, share_info=None):
        node = self._node_of(instance)
        self._run(node, self._power.power_on, node)

    def get_console_output(self, context, instance):
        """The last ``[baremetal] console_log_bytes`` of the node's
        console since its instance booted (IPMI Serial-over-LAN)."""
        return self._consoles.output(self._node_of(instance).uuid)

    def get_serial_console(self, context, instance):
        """Where nova-serialproxy reaches the node's console: a TCP port
        on ``[serial_console] proxyclient_address``, bridged to SOL."""
        host, port = self._consoles.serial_endpoint(
            self._node_of(instance).uuid)
        return console_type.ConsoleSerial(host=host, port=port)

    def _run(self, node, operation, *args):
        """Run a power operation and remember the state it read back.

        A BMC error is remembered too, then re-raised for Nova, which
        records it as the instance action's fault.
        """
        try:
            state = operation(*args)
        except exception.BMC_TROUBLE as e:
            self._remember_error(node, e)
            raise
        self._sync.record(node, state)
        return state

    def _remember_error(self, node, error):
        """A BMC that failed (rather than refused) is failing from now."""
        if getattr(error, 'counts_against_bmc', True):
            self._sync.record(node, error)


class _InstanceRef:
    """What _release needs of an instance Nova may no longer have."""

    def __init__(self, uuid):
        self.uuid = uuid

    def get(self, key, default=None):  # what oslo.log reads
        return self.uuid if key == 'uuid' else default
