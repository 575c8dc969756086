"""The power interface every power implementation offers.

Like Ironic's ``PowerInterface``: ``validate`` checks a node's parameters and
never talks to the BMC; every other method does, and raises only
:class:`nova_bm.exception.BmcError` subclasses for BMC trouble. A node is
anything with the attributes of a ``bm_nodes`` row (``uuid``, ``name``,
``ipmi_address``, ``ipmi_port``, ``ipmi_username``, ``ipmi_password``).
"""

import abc

from nova_bm.common import states

POWER_ON = states.POWER_ON
POWER_OFF = states.POWER_OFF

#: Boot devices a caller may ask for.
BOOT_DEVICES = ('pxe', 'disk', 'cdrom', 'bios', 'safe', 'default')

SOFT = 'soft'
HARD = 'hard'

#: The first pause between power state reads while waiting for a state.
FIRST_POLL_INTERVAL = 0.05


def poll_intervals(longest):
    """Pauses between reads of a state that is about to change: 0.05 s,
    doubling up to ``longest`` (``[baremetal] power_state_poll_interval``).

    A machine that has just been told to change (or a deploy ramdisk that
    has just said it powers off) usually does so within a second: reading
    soon notices it at most about twice as late as it happened, instead of
    up to a whole interval late, for a handful of extra reads per change.
    """
    interval = min(FIRST_POLL_INTERVAL, longest)
    while True:
        yield interval
        interval = min(interval * 2, longest)


class PowerInterface(metaclass=abc.ABCMeta):
    """Power and boot-device control of bare-metal nodes."""

    @abc.abstractmethod
    def validate(self, node):
        """Check the node's BMC parameters without contacting the BMC.

        :raises: InvalidBmcParameters naming what is wrong.
        """

    @abc.abstractmethod
    def check_access(self, node):
        """Log into the node's BMC with its stored credentials.

        :raises: BmcError when the BMC cannot be reached or refuses them.
        """

    @abc.abstractmethod
    def get_power_state(self, node):
        """Return ``POWER_ON`` or ``POWER_OFF``, as the BMC reports it now."""

    @abc.abstractmethod
    def get_power_states(self, nodes):
        """Ask many BMCs at once.

        :returns: ``{node.uuid: POWER_ON | POWER_OFF | BmcError}``, one entry
            per node; a failing BMC costs at most one timeout and does not
            delay the answers of the others.
        """

    @abc.abstractmethod
    def power_on(self, node):
        """Power on; return once the BMC reports on (bounded)."""

    @abc.abstractmethod
    def power_off(self, node):
        """Hard power off; return once the BMC reports off (bounded)."""

    @abc.abstractmethod
    def soft_power_off(self, node, timeout):
        """Ask the OS to shut down; return once off within ``timeout`` s.

        :raises: PowerStateTimeout when the node is still on afterwards;
            the caller decides whether to force it off.
        """

    @abc.abstractmethod
    def reboot(self, node, kind=HARD):
        """Reboot (``SOFT`` or ``HARD``); return once the BMC reports on."""

    @abc.abstractmethod
    def set_boot_device(self, node, device, persistent=False):
        """Boot from ``device`` (one of BOOT_DEVICES) next time or always,
        by the boot path of the node's ``boot_mode`` (UEFI or legacy)."""

    @abc.abstractmethod
    def get_boot_device(self, node):
        """Return ``{'boot_device': …, 'persistent': bool, 'efi': bool}``
        (``efi``: the override is for the EFI boot path)."""

    # Optional: an implementation that cannot read a system GUID (or a
    # wrapper that does not pass it on) leaves these as they are.

    def get_system_guid(self, node):
        """The GUID the node's BMC reports for its machine (IPMI's Get
        System GUID): a lower-case canonical UUID string, read in the
        SMBIOS byte order; match a machine's SMBIOS UUID against it with
        :func:`nova_bm.common.system_uuid.product_uuids`.

        :raises: BmcError when the BMC does not answer, refuses, or
            answers something that is not a GUID.
        :raises: NotImplementedError when this implementation cannot.
        """
        raise NotImplementedError(
            '%s cannot read system GUIDs' % type(self).__name__)

    def get_system_guids(self, nodes):
        """Ask many BMCs for their system GUIDs at once.

        :returns: ``{node.uuid: GUID string | BmcError |
            InvalidBmcParameters}``, one entry per node; as
            :meth:`get_power_states`, a failing BMC does not delay the
            others.
        :raises: NotImplementedError when this implementation cannot.
        """
        raise NotImplementedError(
            '%s cannot read system GUIDs' % type(self).__name__)
