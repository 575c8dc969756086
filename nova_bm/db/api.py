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

``from nova_bm.db import api as db_api`` is the one way in. Every name
here is defined in one of the modules beside this one, each with one job,
and re-exported unchanged:

* :mod:`~nova_bm.db.session`: engine, transactions, error translation,
  keeping SQL parameters (IPMI passwords) out of errors and logs;
* :mod:`~nova_bm.db.nodes`: node rows (enrolment, look-up, changes,
  power and provision states);
* :mod:`~nova_bm.db.claims`: a node given to an instance and freed;
* :mod:`~nova_bm.db.proxies`: which proxy owns which node (rebalancing);
* :mod:`~nova_bm.db.interfaces`: NICs and the Neutron ports they carry;
* :mod:`~nova_bm.db.jobs`: deploy, cleaning and inspection jobs, their
  tokens;
* :mod:`~nova_bm.db.inventories`: inspections' outcomes, the hardware
  found.

They import downwards (claims, interfaces, jobs, inventories -> nodes ->
session; proxies -> session), never this module. A test patching a name that
other database functions call patches it where it is defined
(``nova_bm.db.nodes.get_node``); patching it here changes only what callers
outside ``nova_bm.db`` see.
"""

from nova_bm.common import states
from nova_bm.db.claims import claim_node
from nova_bm.db.claims import get_node_by_instance
from nova_bm.db.claims import list_instance_uuids
from nova_bm.db.claims import release_node
from nova_bm.db.interfaces import add_interface
from nova_bm.db.interfaces import assign_vifs
from nova_bm.db.interfaces import delete_interface
from nova_bm.db.interfaces import list_interfaces
from nova_bm.db.interfaces import release_vifs
from nova_bm.db.interfaces import update_interface
from nova_bm.db.inventories import end_inspection
from nova_bm.db.inventories import get_inventory
from nova_bm.db.jobs import end_job
from nova_bm.db.jobs import find_job
from nova_bm.db.jobs import find_inspection_by_system_uuid
from nova_bm.db.jobs import find_job_by_macs
from nova_bm.db.jobs import get_job
from nova_bm.db.jobs import hand_out_token
from nova_bm.db.jobs import list_jobs
from nova_bm.db.jobs import mark_job_booted
from nova_bm.db.jobs import record_disks
from nova_bm.db.jobs import record_image_served
from nova_bm.db.jobs import record_job_call
from nova_bm.db.jobs import start_job
from nova_bm.db.jobs import suspect_job
from nova_bm.db.nodes import change_provision_state
from nova_bm.db.nodes import end_cleaning
from nova_bm.db.nodes import count_nodes
from nova_bm.db.nodes import create_node
from nova_bm.db.nodes import create_nodes
from nova_bm.db.nodes import destroy_node
from nova_bm.db.nodes import get_node
from nova_bm.db.nodes import get_nodes
from nova_bm.db.nodes import list_nodes
from nova_bm.db.nodes import record_power_states
from nova_bm.db.nodes import set_provision_state
from nova_bm.db.nodes import update_node
from nova_bm.db.proxies import list_orphaned
from nova_bm.db.proxies import list_partition
from nova_bm.db.proxies import list_proxies
from nova_bm.db.proxies import move_nodes
from nova_bm.db.proxies import record_proxy
from nova_bm.db.session import check_connection_url
# Rows per INSERT batch and IN (...) list: tests size their batches by it.
from nova_bm.db.session import CHUNK as _CHUNK  # noqa: F401
from nova_bm.db.session import dispose
from nova_bm.db.session import engine

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

__all__ = [
    'change_provision_state', 'end_cleaning',
    # session: the engine (migrations, tests) and its configuration
    'check_connection_url', 'dispose', 'engine',
    # nodes
    'get_node', 'list_nodes', 'get_nodes', 'record_power_states',
    'count_nodes', 'create_node', 'create_nodes', 'update_node',
    'destroy_node', 'set_provision_state',
    # claims
    'AVAILABLE', 'DEPLOYING', 'ACTIVE', 'DEPLOY_FAILED', 'CLEANING',
    'CLEAN_FAILED',
    'claim_node', 'release_node', 'get_node_by_instance',
    'list_instance_uuids',
    # ownership (scale-out)
    'list_partition', 'move_nodes', 'record_proxy', 'list_proxies',
    'list_orphaned',
    # interfaces
    'add_interface', 'list_interfaces', 'update_interface', 'assign_vifs',
    'release_vifs', 'delete_interface',
    # deploys and cleanings (nova_bm.deploy)
    'start_job', 'get_job', 'find_job', 'find_job_by_macs',
    'find_inspection_by_system_uuid', 'end_inspection', 'get_inventory',
    'mark_job_booted', 'hand_out_token', 'suspect_job', 'record_job_call',
    'record_disks', 'record_image_served', 'end_job', 'list_jobs',
]
