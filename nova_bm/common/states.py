"""One vocabulary for the states every layer speaks of.

Like Ironic's ``ironic/common/states.py``: the provision states of a
node, its power states, the modes and statuses of a deploy job, the
deploy interfaces. They
are written to the node database and shown by ``nova-bm-manage``, so the
values never change; code names them, never spells them.
"""

# -- a node's provision_state ------------------------------------------------

#: Free for an instance.
AVAILABLE = 'available'
#: Its deploy ramdisk is writing an instance's image.
DEPLOYING = 'deploying'
#: Running its instance.
ACTIVE = 'active'
#: A rebuild failed: the node keeps its instance, off.
DEPLOY_FAILED = 'deploy failed'
#: Its disks are being erased before anyone else gets it.
CLEANING = 'cleaning'
#: Its cleaning failed or cannot be trusted: in maintenance, waiting for
#: an operator.
CLEAN_FAILED = 'clean failed'
#: The states in which a node's disks may still hold a tenant's data:
#: reserved in placement, never offered.
NOT_CLEAN = frozenset((CLEANING, CLEAN_FAILED))

# -- a node's power_state, as its BMC reports it ----------------------------

POWER_ON = 'on'
POWER_OFF = 'off'

# -- a deploy job: what its ramdisk is told (mode), and where it is (status)

DEPLOY = 'deploy'
CLEAN = 'clean'
#: Waiting for its ramdisk's report.
WAITING = 'waiting'
#: Its ramdisk reported success.
DONE = 'done'
#: Its ramdisk reported a failure, or the job became suspect.
FAILED = 'failed'

# -- a node's deploy_interface -----------------------------------------------

#: The instance's image is written to the node's disk.
IMAGE = 'image'
#: The node boots from the network; nothing is written.
NETBOOT = 'netboot'
DEPLOY_INTERFACES = (IMAGE, NETBOOT)
