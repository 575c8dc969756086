"""The proxy: builds what acts on this nova-compute's nodes, starts and
stops it, and is what the driver calls.

One :class:`Proxy` per driver. It owns the collaborators (power, power
sync, node cache, consoles, deploys, network, notifier, rebalancer, the
``nodes_changed`` listener) and hands them down in a
:class:`~nova_bm.proxy.task.NodeTask`; the instance operations are in
:mod:`nova_bm.proxy.provision`, cleanings in :mod:`nova_bm.proxy.cleaning`,
the per-cycle reconciliation and the recovery at start in
:mod:`nova_bm.proxy.cycle`. Callers may rely on:

* ``provision_state`` of a node in service is written only by the
  provisioner (nova-bm-manage's ``node manage|provide`` move nodes no
  instance holds into service, and tell the proxy); ``power_state`` by
  the power sync, and by nova-bm-manage's power commands, which tell the
  owning proxy at once (it then takes what the BMC said);
* nothing below the proxy calls back into it.
"""

import os

from nova import context as nova_context
import nova.utils
import nova.virt.node
from oslo_log import log as logging
from oslo_utils import uuidutils

from nova_bm.common import node_events
from nova_bm.common import notifications
from nova_bm.conf import CONF
from nova_bm.conf import check as conf_check
from nova_bm.console import manager as console_manager
from nova_bm.console import tcp as console_tcp
from nova_bm.db import api as db_api
from nova_bm.deploy import manager as deploy_manager
from nova_bm import exception
from nova_bm.network import ports as network_ports
from nova_bm.power import base as power_base
from nova_bm.power import ipmi
from nova_bm.proxy import cleaning
from nova_bm.proxy import cycle
from nova_bm.proxy import inspection
from nova_bm.proxy import node_cache
from nova_bm.proxy import power_sync
from nova_bm.proxy import provision
from nova_bm.proxy import rebalance
from nova_bm.proxy import resources
from nova_bm.proxy import task as node_task

LOG = logging.getLogger(__name__)


def configuration_problem():
    """What makes the configuration unusable, as one line, or None."""
    try:
        conf_check.check_options(CONF, conf_check.DRIVER_GROUPS)
        db_api.check_connection_url()
        deploy_manager.bind_address()
        console_tcp.allowed_clients()
    except exception.ConfigInvalid as e:
        return e.kwargs['reason']
    return None


class Proxy:
    """The nodes of one nova-compute service, as ``host``."""

    def __init__(self, power=None):
        self._power = power or ipmi.IPMIPower()
        self.cache = node_cache.NodeCache(CONF.host)
        self._notifier = None
        self.sync = power_sync.PowerSync(self._power, notify=self.notify)
        self.power = node_task.RecordingPower(self._power, self.sync)
        self.consoles = console_manager.ConsoleManager()
        self.deploys = deploy_manager.DeployManager(self.power)
        self.network = network_ports.PortBinder()
        self.rebalancer = self._new_rebalancer(CONF.host)
        self.provisioner = provision.Provisioner(self)
        self.cleanings = cleaning.Cleanings(self)
        self.inspections = inspection.Inspections(self)
        self.cycle = cycle.Cycle(self)
        self._events_server = None

    @staticmethod
    def _new_rebalancer(host):
        return rebalance.Rebalancer(host, CONF.baremetal.ownership,
                                    CONF.baremetal.partition_key)

    def task(self, node):
        """A :class:`~nova_bm.proxy.task.NodeTask` for ``node``."""
        return node_task.NodeTask(node, self.power, self.sync, self.cache,
                                  self.notify)

    def notify(self, event_type, node, **extra):
        if self._notifier is not None:
            self._notifier.emit(event_type, node, **extra)

    # -- life ------------------------------------------------------------

    def start(self, host):
        """Know the nodes and their BMCs before Nova's first cycle.

        One sweep runs here, so that a node whose BMC does not answer is
        reserved from the very first inventory Nova reports; it costs at
        most one IPMI timeout, whatever the number of nodes.

        :raises: ConfigInvalid (the deploy server cannot listen)
        """
        self.cache = node_cache.NodeCache(host)
        self.rebalancer = self._new_rebalancer(host)
        self._notifier = notifications.Notifier(host)
        ensure_proxy_identity()
        self.cleanings.reset()
        self.inspections.reset()
        self.deploys.start()
        try:
            nodes = self.cycle.reconcile(take_share=True)
        except (exception.DatabaseUnavailable,
                exception.DatabaseNotReady) as e:
            LOG.error('Node database not usable: %s', e)
            nodes = []  # Nova retries every resource cycle
        else:
            LOG.info('Proxy %(host)s owns %(count)d bare-metal nodes',
                     {'host': host, 'count': len(nodes)})
        if nodes:
            self.sync.sweep(nodes)
            self.cycle.recover(nova_context.get_admin_context(), nodes)
        self.sync.start(CONF.baremetal.power_sync_interval,
                        self.sync_power_states)
        self._events_server = node_events.start_server(
            host, self.nodes_changed,
            'threading' if nova.utils.concurrency_mode_threading()
            else 'eventlet', on_power=self.power_states_read)

    def stop(self):
        self.sync.stop()
        server, self._events_server = self._events_server, None
        if server is not None:
            server.stop()
            server.wait()
        self.deploys.stop()
        self.consoles.close_all()

    def stopping(self):
        return self.deploys.stopping()

    def events_endpoints(self):
        """The ``nodes_changed`` listener's endpoints (None when stopped)."""
        server = self._events_server
        return None if server is None else server.dispatcher.endpoints

    def nodes_changed(self, uuids):
        """nova-bm-manage changed nodes: reload them now, not next cycle."""
        self._reconcile(take_share=True)

    def power_states_read(self, uuids):
        """nova-bm-manage read (and stored) the power states of ``uuids``
        from their BMCs, powering them or not: take those states now, so
        that Nova is answered with them, not with what this proxy knew
        before (its next sweep would be late)."""
        nodes = self._reconcile()
        read = set(uuids)
        self.sync.adopt([node for node in nodes if node.uuid in read])

    def _reconcile(self, take_share=False):
        try:
            return self.cycle.reconcile(take_share=take_share)
        except (exception.DatabaseUnavailable,
                exception.DatabaseNotReady) as e:
            LOG.error('Node database not usable: %s', e)
            return []  # the next cycle tries again

    def sync_power_states(self):
        """One sweep over every owned node: one query, one bulk IPMI call.

        :returns: ``{node uuid: state | error}``.
        """
        return self.sync.sweep(self.cache.refresh())

    # -- what Nova asks of nodes -----------------------------------------

    def node(self, name):
        """The owned node called ``name``, or None."""
        return self.cache.get(name)

    @staticmethod
    def node_deleted(name):
        """Whether no node called ``name`` is enrolled any more (one
        moved to another proxy is not deleted)."""
        try:
            db_api.get_node(name)
        except exception.NodeNotFound:
            return True
        return False

    def nodes(self, refresh=False):
        return self.cache.refresh() if refresh else self.cache.nodes()

    def resources(self, node):
        return resources.node_resources(node, self.sync.failing(node.uuid))

    def inventory(self, node):
        return resources.inventory(
            node, self.sync.failing(node.uuid),
            standard=CONF.baremetal.report_standard_inventory)

    @staticmethod
    def traits(node):
        return resources.traits(node)

    def host_stats(self, nodes):
        return [resources.host_stats(self.cache.host, node,
                                     self.sync.failing(node.uuid))
                for node in nodes]

    def instance_uuids(self):
        return db_api.list_instance_uuids(self.cache.host)

    def instance_node(self, instance_uuid):
        """The owned node holding the instance, read now, or None."""
        node = db_api.get_node_by_instance(instance_uuid)
        if node is not None and node.service_host != self.cache.host:
            return None
        return node

    def power_state(self, instance_uuid, use_cache=True):
        """``(node, state)``: the power state of the instance's node (None
        when unknown), from the last sweep or asked now; ``node`` is None
        when no owned node holds the instance.

        With ``use_cache`` the node comes from the node cache, so Nova's
        power-state sync costs no query per instance.
        """
        node = self.cache.holding(instance_uuid) if use_cache else None
        if node is None:
            node = self.instance_node(instance_uuid)
            if node is None:
                return None, None
        if use_cache and (self.sync.state(node.uuid) is not None
                          or self.sync.failing(node.uuid)):
            return node, self.sync.state(node.uuid)
        try:
            return node, self.task(node).run(self.power.get_power_state)
        except exception.BMC_TROUBLE:
            return node, None

    # -- power operations on an instance's node ---------------------------

    def reboot(self, node, soft, instance=None):
        """Soft: orderly shutdown then power on, hard reset if that fails.

        :raises: what the BMC raised (remembered against it)
        """
        task = self.task(node)
        if soft:
            try:
                task.run(self.power.reboot, power_base.SOFT)
                return
            except (exception.PowerStateTimeout,
                    exception.BmcCommandRefused) as e:
                LOG.warning('Soft reboot of node %(node)s failed (%(error)s)'
                            '; resetting it', {'node': node.name, 'error': e},
                            instance=instance)
        task.run(self.power.reboot, power_base.HARD)

    def power_off(self, node, timeout=0, instance=None):
        """Soft power off within ``timeout`` s when given, then hard."""
        task = self.task(node)
        if timeout:
            try:
                task.run(self.power.soft_power_off, timeout)
                return
            except (exception.PowerStateTimeout,
                    exception.BmcCommandRefused) as e:
                LOG.warning('Node %(node)s did not shut down within '
                            '%(timeout)s s (%(error)s); powering it off',
                            {'node': node.name, 'timeout': timeout,
                             'error': e}, instance=instance)
        task.run(self.power.power_off)

    def power_on(self, node):
        self.task(node).run(self.power.power_on)


def ensure_proxy_identity():
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
        nova.virt.node.write_local_node_uuid(uuidutils.generate_uuid())
        LOG.info('Wrote the proxy identity file %s',
                 os.path.join(CONF.state_path,
                              nova.virt.node.COMPUTE_ID_FILE))
