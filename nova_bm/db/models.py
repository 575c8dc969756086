"""SQLAlchemy models of the node database.

Every schema change is an alembic migration under ``migrations/``; a unit
test compares these models with the migrated schema on every backend.
Unique constraints follow oslo.db's ``uniq_<table>0<column>…`` naming so
that oslo.db can tell which column a duplicate hit on every backend.
"""

from oslo_db.sqlalchemy import models
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql

from nova_bm.common import states


class _NovaBMBase(models.TimestampMixin, models.ModelBase):
    pass


Base = orm.declarative_base(cls=_NovaBMBase)


class Node(Base):
    """One bare-metal machine, proxied by one nova-compute service."""

    __tablename__ = 'bm_nodes'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_bm_nodes0uuid'),
        sa.UniqueConstraint('name', name='uniq_bm_nodes0name'),
        sa.UniqueConstraint('instance_uuid',
                            name='uniq_bm_nodes0instance_uuid'),
        sa.UniqueConstraint('ipmi_address', 'ipmi_port',
                            name='uniq_bm_nodes0ipmi_address0ipmi_port'),
        sa.Index('bm_nodes_service_host_idx', 'service_host'),
        sa.Index('bm_nodes_partition_key_idx', 'partition_key'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    """Stable identity; Nova's compute node UUID for this node."""
    name = sa.Column(sa.String(255), nullable=False)
    """Nova's hypervisor_hostname for this node; never changes."""
    service_host = sa.Column(sa.String(255), nullable=False)
    """CONF.host of the nova-compute proxy that owns this node.

    With ``[baremetal] ownership = hash_ring`` the proxies move it among
    themselves, each move a conditional UPDATE (see db.api.move_nodes)."""
    partition_key = sa.Column(sa.String(255), nullable=True)
    """Only proxies with this ``[baremetal] partition_key`` may own the
    node in hash_ring mode (a rack, a room); None: proxies without one."""
    cpus = sa.Column(sa.Integer, nullable=False)
    memory_mb = sa.Column(sa.Integer, nullable=False)
    local_gb = sa.Column(sa.Integer, nullable=False)
    cpu_arch = sa.Column(sa.String(32), nullable=False)
    resource_class = sa.Column(sa.String(80), nullable=False)
    """As the operator named it; placement sees CUSTOM_<normalised>."""
    traits = sa.Column(db_types.JsonEncodedList(), nullable=False)
    ipmi_address = sa.Column(sa.String(255), nullable=False)
    ipmi_port = sa.Column(sa.Integer, nullable=False)
    ipmi_username = sa.Column(sa.String(255), nullable=False)
    ipmi_password = sa.Column(sa.String(255), nullable=False)
    """Secret: never printed, logged or put in a notification."""
    instance_uuid = sa.Column(sa.String(36), nullable=True)
    """The instance holding the node; set only by a conditional UPDATE."""
    power_state = sa.Column(sa.String(16), nullable=True)
    """Last power state read from the BMC (None: never read)."""
    provision_state = sa.Column(sa.String(16), nullable=False,
                                default=states.AVAILABLE)
    maintenance = sa.Column(sa.Boolean, nullable=False, default=False)
    maintenance_reason = sa.Column(sa.Text, nullable=True)
    last_error = sa.Column(sa.Text, nullable=True)
    fault = sa.Column(sa.String(32), nullable=True)
    """What keeps the node from service (``states.FAULT_*``), or None: its
    BMC unreachable or refusing the credentials (cleared when it answers),
    power off not confirmed, cleaning failed (cleared when an operator
    takes it out of maintenance)."""
    root_device_hints = sa.Column(db_types.JsonEncodedDict(), nullable=True)
    """Ironic's root device hints (:mod:`nova_bm.common.root_device_hints`,
    normalized): which disk a deploy writes the image to. No hints read
    as ``{}`` (or None in rows from before the column): test its truth."""
    deploy_interface = sa.Column(sa.String(16), nullable=False,
                                 server_default=states.NETBOOT)
    """``image`` (the instance's image is written to the node's disk) or
    ``netboot`` (the node boots from the network; nothing is written).
    Rows from before deploys existed are ``netboot``: an upgrade changes
    nothing under a running cloud."""

    boot_mode = sa.Column(sa.String(8), nullable=False,
                          server_default=states.BIOS)
    """``uefi`` or ``bios``: the boot path of every boot override the
    node's BMC is sent, its network boot loader and its local boot. Rows
    from before boot modes existed are ``bios``, as they were deployed;
    new nodes get ``[baremetal] default_boot_mode``."""

    clean_mode = sa.Column(sa.String(16), nullable=True)
    """How the node's disks are erased between tenants (``metadata``,
    ``express``, ``full``, ``none``); None: ``[baremetal]
    automated_clean``."""
    clean_request = sa.Column(sa.String(16), nullable=True)
    """The mode an operator asked the next cleaning to run in
    (``nova-bm-manage node clean --mode``); cleared when a cleaning
    succeeds."""
    last_cleaning = sa.Column(db_types.JsonEncodedDict(mysql_as_medium=True),
                              nullable=True)
    """The proof of the node's last cleaning: ``mode``, ``started_at``,
    ``finished_at``, ``result`` (``ok`` or ``failed``), ``problems`` and
    per disk its identity (name, size, serial, WWN, model) and what the
    ramdisk did (method, bytes, seconds, samples read back, note)."""

    last_inspection = sa.Column(
        db_types.JsonEncodedDict(mysql_as_medium=True), nullable=True)
    """The record of the node's inspection (``nova-bm-manage node
    inspect``): ``requested_at`` and ``overwrite`` (what the operator
    asked), then ``started_at``, ``finished_at``, ``result`` (``ok`` or
    ``failed``), ``problems``, ``set`` (the fields it filled or changed)
    and ``disagreements`` (values set by hand that differ from what was
    found, kept). None: never inspected. The inventory itself is in
    :class:`Inventory`."""

    interfaces = orm.relationship(
        'Interface', back_populates='node', order_by='Interface.id',
        cascade='all, delete-orphan', passive_deletes=True)


class Inventory(Base):
    """The hardware a node's deploy ramdisk read at its last successful
    inspection, as JSON (validated and bounded by
    :mod:`nova_bm.inspection.inventory`). A table of its own, so that the
    bulk queries of every node never read it."""

    __tablename__ = 'bm_inventories'

    node_id = sa.Column(sa.Integer,
                        sa.ForeignKey('bm_nodes.id', ondelete='CASCADE',
                                      name='bm_inventories_node_id_fkey'),
                        primary_key=True, autoincrement=False)
    inventory = sa.Column(sa.Text().with_variant(mysql.MEDIUMTEXT(),
                                                 'mysql'), nullable=False)


class Proxy(Base):
    """A nova-compute service running this driver: a candidate owner.

    Written by the proxy itself when it starts and at every resource
    cycle. Nova's service table says whether the service is up; this one
    says that it runs nova-bm, with which partition key, which Nova cannot
    tell for a proxy that owns no node yet.
    """

    __tablename__ = 'bm_proxies'
    __table_args__ = (
        sa.UniqueConstraint('host', name='uniq_bm_proxies0host'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    host = sa.Column(sa.String(255), nullable=False)
    """CONF.host of the nova-compute service."""
    partition_key = sa.Column(sa.String(255), nullable=True)
    ownership = sa.Column(sa.String(16), nullable=False)
    """The proxy's ``[baremetal] ownership`` mode."""
    seen_at = sa.Column(sa.DateTime, nullable=False)
    """When the proxy last reported itself (UTC)."""


class Interface(Base):
    """A network interface (port) of a node, known by its MAC address."""

    __tablename__ = 'bm_interfaces'
    __table_args__ = (
        sa.UniqueConstraint('address', name='uniq_bm_interfaces0address'),
        sa.Index('bm_interfaces_node_id_idx', 'node_id'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    node_id = sa.Column(sa.Integer,
                        sa.ForeignKey('bm_nodes.id', ondelete='CASCADE'),
                        nullable=False)
    address = sa.Column(sa.String(17), nullable=False)
    """Lower-case aa:bb:cc:dd:ee:ff."""
    vif_id = sa.Column(sa.String(36), nullable=True)
    pxe_enabled = sa.Column(sa.Boolean(), nullable=False,
                            server_default=sa.true())
    """The node boots from the network through this NIC (its Neutron
    port gets the iPXE DHCP options during a deploy)."""
    physical_network = sa.Column(sa.String(64), nullable=True)
    """The Neutron physical network the NIC is cabled to, if known."""
    local_link_connection = sa.Column(db_types.JsonEncodedDict(),
                                      nullable=True)
    """The switch port: ``switch_id``, ``port_id``, ``switch_info`` (the
    ``binding:profile.local_link_information`` Neutron gets)."""

    node = orm.relationship('Node', back_populates='interfaces')


class DeployJob(Base):
    """The deploy or cleaning a node's ramdisk is doing now, if any.

    One per node at most (unique ``node_id``): the row is written when
    the proxy boots the node into the deploy ramdisk and deleted when the
    deploy or cleaning ends, which kills its token. The token does not
    exist until the ramdisk's first lookup (Ironic's agent token): it is
    handed out once, bound to the address that asked, and only its sha256
    is stored, so neither the iPXE scripts nor a copy of the database let
    anyone act as the ramdisk.
    """

    __tablename__ = 'bm_deploy_jobs'
    __table_args__ = (
        sa.UniqueConstraint('node_id', name='uniq_bm_deploy_jobs0node_id'),
        sa.UniqueConstraint('token_hash',
                            name='uniq_bm_deploy_jobs0token_hash'),
        sa.Index('bm_deploy_jobs_system_uuid_idx', 'system_uuid'),
        # A job is known by its id: SQLite must never reuse one.
        {'sqlite_autoincrement': True},
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    node_id = sa.Column(sa.Integer,
                        sa.ForeignKey('bm_nodes.id', ondelete='CASCADE'),
                        nullable=False)
    mode = sa.Column(sa.String(16), nullable=False)
    """``deploy`` or ``clean``: what the ramdisk is told to do."""
    instance_uuid = sa.Column(sa.String(36), nullable=True)
    """The instance being deployed (None when cleaning)."""
    token_hash = sa.Column(sa.String(64), nullable=True)
    """sha256 of the token (hex); None until the lookup handed it out."""
    holder_address = sa.Column(sa.String(64), nullable=True)
    """The address the lookup came from: every later call must too."""
    booted_at = sa.Column(sa.DateTime, nullable=True)
    """When the proxy powered the node on into the ramdisk (UTC)."""
    looked_up_at = sa.Column(sa.DateTime, nullable=True)
    """When the token was handed out (UTC)."""
    image_file = sa.Column(sa.String(255), nullable=True)
    """The image's file name in the proxy's image cache."""
    image_size = sa.Column(sa.BigInteger, nullable=True)
    image_sha256 = sa.Column(sa.String(64), nullable=True)
    image_served_at = sa.Column(sa.DateTime, nullable=True)
    """When the token holder had read the whole image (UTC)."""
    root_device = sa.Column(sa.String(255), nullable=True)
    """The disk the image goes to, chosen by the node's root device hints
    from the disks the ramdisk reported (None until it reported them)."""
    root_size = sa.Column(sa.BigInteger, nullable=True)
    """That disk's size in bytes, as the ramdisk reported it."""
    disks = sa.Column(sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql'),
                      nullable=True)
    """The disks the ramdisk reported, as JSON (validated, bounded)."""
    clean_mode = sa.Column(sa.String(16), nullable=True)
    """A cleaning's mode, as its ramdisk is told (None for a deploy)."""
    erase_report = sa.Column(sa.Text().with_variant(mysql.MEDIUMTEXT(),
                                                    'mysql'),
                             nullable=True)
    """A cleaning's per-disk report, as JSON (validated, bounded)."""
    system_uuid = sa.Column(sa.String(36), nullable=True)
    """An inspection's: the system GUID the node's BMC reported (lower
    case), by which a ramdisk whose MACs name no node is found (a node
    enrolled with its BMC alone)."""
    inventory = sa.Column(sa.Text().with_variant(mysql.MEDIUMTEXT(),
                                                 'mysql'), nullable=True)
    """An inspection's report, as JSON (validated, bounded)."""
    configdrive_file = sa.Column(sa.String(255), nullable=True)
    """The config drive's file in the proxy's config drive directory, or
    None when the instance has none."""
    configdrive_size = sa.Column(sa.BigInteger, nullable=True)
    configdrive_sha256 = sa.Column(sa.String(64), nullable=True)
    result_configdrive_sha256 = sa.Column(sa.String(64), nullable=True)
    """sha256 of the config drive as the ramdisk read it back."""
    status = sa.Column(sa.String(16), nullable=False,
                       default=states.WAITING)
    """``waiting``, then what the ramdisk reported: ``done``/``failed``
    (``failed`` too when the job became suspect before a report)."""
    result_sha256 = sa.Column(sa.String(64), nullable=True)
    result_device = sa.Column(sa.String(255), nullable=True)
    error = sa.Column(sa.Text, nullable=True)
    """The ramdisk's own words when it failed (at most 1 KB)."""
    suspicion = sa.Column(sa.Text, nullable=True)
    """Why the job cannot be trusted (the first reason), or None: a
    second lookup, the token shown from another address, a report that
    came too early to be real. A suspect job never ends well."""
    heartbeat_at = sa.Column(sa.DateTime, nullable=True)
    """When the ramdisk last called (lookup, config, heartbeat, image or
    done; UTC)."""
