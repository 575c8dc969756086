"""One vocabulary for the states every layer speaks of.

Like Ironic's ``ironic/common/states.py``: the provision states of a
node, its power states, the modes and statuses of a deploy job, the
deploy interfaces. They
are written to the node database and shown by ``nova-bm-manage``, so the
values never change; code names them, never spells them.
"""

# -- a node's provision_state ------------------------------------------------

#: Enrolled; nobody checked its BMC yet: never offered
#: (``nova-bm-manage node manage`` checks it).
ENROLL = 'enroll'
#: Its BMC answered with its credentials; not offered until an operator
#: provides it (``nova-bm-manage node provide``, which cleans it first).
MANAGEABLE = 'manageable'
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
#: Its deploy ramdisk is reading its hardware
#: (``nova-bm-manage node inspect``); it goes back to where it came from
#: (an ``enroll`` node to ``manageable``: its BMC answered).
INSPECTING = 'inspecting'
#: Its inspection failed: not offered until it is inspected again (or
#: managed); its disks were never written.
INSPECT_FAILED = 'inspect failed'
#: The states in which a node's disks may still hold a tenant's data:
#: reserved in placement, never offered.
NOT_CLEAN = frozenset((CLEANING, CLEAN_FAILED))
#: The node's ramdisk may be running: a job is in flight.
IN_FLIGHT = frozenset((DEPLOYING, CLEANING, INSPECTING))
#: Every provision state, in a node's order of life.
PROVISION_STATES = (ENROLL, MANAGEABLE, INSPECTING, INSPECT_FAILED,
                    AVAILABLE, DEPLOYING, ACTIVE, DEPLOY_FAILED, CLEANING,
                    CLEAN_FAILED)
#: The states of a node that is not ready for tenants yet.
NOT_PROVIDED = frozenset((ENROLL, MANAGEABLE, INSPECTING, INSPECT_FAILED))
#: The states a node may be enrolled in ([baremetal] enrolled_node_state,
#: a node file's provision_state).
ENROLLED_STATES = (ENROLL, MANAGEABLE, AVAILABLE)

# -- a node's power_state, as its BMC reports it ----------------------------

POWER_ON = 'on'
POWER_OFF = 'off'

# -- a node's fault: what keeps it from service, in plain sight -------------

#: Its BMC did not answer (or answered garbage).
FAULT_BMC = 'bmc unreachable'
#: Its BMC refused the credentials.
FAULT_CREDENTIALS = 'credentials refused'
#: It may still run a tenant's system: the BMC would not confirm it off.
FAULT_POWER_OFF = 'power off not confirmed'
#: Its cleaning failed or cannot be trusted.
FAULT_CLEAN = 'clean failed'
#: Faults an answering BMC clears.
BMC_FAULTS = frozenset((FAULT_BMC, FAULT_CREDENTIALS))
FAULTS = (FAULT_BMC, FAULT_CREDENTIALS, FAULT_POWER_OFF, FAULT_CLEAN)

# -- a deploy job: what its ramdisk is told (mode), and where it is (status)

DEPLOY = 'deploy'
CLEAN = 'clean'
INSPECT = 'inspect'
#: Waiting for its ramdisk's report.
WAITING = 'waiting'
#: Its ramdisk reported success.
DONE = 'done'
#: Its ramdisk reported a failure, or the job became suspect.
FAILED = 'failed'

# -- how a node's disks are erased between tenants (its clean mode) ----------

#: The partition tables, GPT headers, signatures and config drives.
CLEAN_METADATA = 'metadata'
#: Hardware secure erase where the device has it, else metadata.
CLEAN_EXPRESS = 'express'
#: Hardware secure erase, else every byte overwritten.
CLEAN_FULL = 'full'
#: No cleaning (test clouds only).
CLEAN_NONE = 'none'
#: The modes a cleaning runs in (``none`` runs none).
ERASE_MODES = (CLEAN_METADATA, CLEAN_EXPRESS, CLEAN_FULL)
CLEAN_MODES = ERASE_MODES + (CLEAN_NONE,)

# -- a node's deploy_interface -----------------------------------------------

#: The instance's image is written to the node's disk.
IMAGE = 'image'
#: The node boots from the network; nothing is written.
NETBOOT = 'netboot'
DEPLOY_INTERFACES = (IMAGE, NETBOOT)

# -- a node's boot_mode (its firmware's boot path) ----------------------------

#: UEFI: boot overrides set the EFI flag; the disk boots from its ESP.
UEFI = 'uefi'
#: Legacy BIOS: overrides for the PC-compatible path; the disk's MBR.
BIOS = 'bios'
BOOT_MODES = (UEFI, BIOS)
