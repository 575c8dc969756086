"""The iPXE scripts a node fetches from the proxy, and where they live.

A node's firmware gets ``boot.ipxe`` from DHCP (option 67, or chained from
``undionly.kpxe`` or ``snponly.efi`` for PXE ROMs without iPXE). That script
tries, NIC by NIC, the script named after the NIC's MAC, like Ironic's:
``nodes/<mac>.ipxe``, with the MAC written ``52-54-00-12-34-56``. The proxy
writes one for every enrolled NIC of a node it deploys or cleans (the deploy
ramdisk), turns it into a local boot when the deploy ends (the safety net for
BMCs that forget a persistent boot device), and removes it when the node is
released. A MAC without a script is answered :data:`NO_SCRIPT`, which makes
iPXE try the next NIC, then ``unknown.ipxe`` (the deploy ramdisk while a node
enrolled without MACs is being inspected, else :data:`NO_SCRIPT`), then give up
on the network so the firmware boots its next device; that answer is the same
for every MAC, enrolled or not. Giving up is ``exit 1``, never a bare ``exit``:
UEFI firmware (EDK2's boot manager) takes a boot option that returns success as
"show the boot menu" and stops there; an error makes it try its next option.
The scripts are the same for BIOS and UEFI nodes: iPXE itself knows which it
runs on.

Nothing here is a secret: these files are served to anyone who asks (the
deploy ramdisk gets its token by looking itself up, see
:mod:`nova_bm.deploy.ramdisk_api`), and they name no node. Files are
written whole (a temporary file renamed into place) under
``[baremetal] deploy_http_root``.
"""

import os
import tempfile
import threading

#: The script DHCP hands to iPXE: chain to this machine's own script.
BOOT_SCRIPT = """#!ipxe
# nova-bm: boot the script of the first NIC that has one.
set i:int32 0
:next_nic
isset ${net${i}/mac} || goto no_script
chain --autofree %(base)s/nodes/${net${i}/mac:hexhyp}.ipxe || goto try_next
:try_next
isset ${nbm-firmware} && goto firmware ||
inc i
goto next_nic
:no_script
chain --autofree %(base)s/%(unknown)s ||
echo nova-bm: no script for this machine's NICs; booting the next device
exit 1
:firmware
echo nova-bm: back to the firmware, which boots the disk
exit 1
"""

#: A node being deployed or cleaned: the deploy ramdisk. It holds no
#: token: the ramdisk looks itself up by its MACs to get one. It never
#: falls through to the disk: a node being cleaned that booted its disk
#: would run what its last tenant left there, which could look itself up
#: as the ramdisk would. A failed download reboots (into the network
#: again: the boot device stays PXE while a job runs).
DEPLOY_SCRIPT = """#!ipxe
# nova-bm: the deploy ramdisk
kernel --name deploy.kernel %(base)s/deploy/kernel nbm_api=%(base)s/api/v1 \
BOOTIF=${mac} %(params)s initrd=deploy.initramfs || goto failed
initrd --name deploy.initramfs %(base)s/deploy/ramdisk || goto failed
boot || goto failed
:failed
echo nova-bm: cannot boot the deploy ramdisk; rebooting
reboot
"""

#: A deployed node: boot the first disk; if that fails, let the firmware
#: go on to its next boot device. Under UEFI (iPXE's ``${platform}`` is
#: ``efi``) there is no BIOS drive 0x80: iPXE hands the machine back to
#: the firmware's boot manager, which boots its next option, the disk's
#: EFI System Partition. ``nbm-firmware`` tells ``boot.ipxe``, to which
#: ``exit`` returns, to end there (not try the next NIC's script). The
#: persistent disk boot (with the EFI flag) that the deploy sets on the
#: BMC makes this script the safety net only.
LOCAL_BOOT_SCRIPT = """#!ipxe
echo nova-bm: boot from the disk
iseq ${platform} efi && goto firmware ||
sanboot --no-describe --drive 0x80 || goto firmware
:firmware
set nbm-firmware 1
exit 1
"""

#: Any MAC without a script: fail this chain, so boot.ipxe tries the
#: next NIC (``exit 1`` returns an error to ``chain``).
NO_SCRIPT = """#!ipxe
# nova-bm: nothing to boot from the network here
exit 1
"""


#: What boot.ipxe chains to when no NIC of the machine has a script: the
#: deploy ramdisk while a node enrolled with its BMC alone (no MAC known)
#: is being inspected, else :data:`NO_SCRIPT`.
UNKNOWN_SCRIPT_NAME = 'unknown.ipxe'


def boot_script(base_url):
    return BOOT_SCRIPT % {'base': base_url, 'unknown': UNKNOWN_SCRIPT_NAME}


def deploy_script(base_url, kernel_params=''):
    return DEPLOY_SCRIPT % {'base': base_url, 'params': kernel_params}


def local_boot_script():
    return LOCAL_BOOT_SCRIPT


def script_name(mac):
    """``nodes/52-54-00-12-34-56.ipxe`` for ``52:54:00:12:34:56``."""
    return 'nodes/%s.ipxe' % mac.lower().replace(':', '-')


class ScriptStore:
    """The scripts under the HTTP root; what a caller may rely on: a
    script is either absent or whole, never half-written."""

    def __init__(self, root):
        self.root = root
        self._unknown = set()
        self._lock = threading.Lock()

    def write_boot_script(self, base_url):
        """``boot.ipxe``, at the proxy's start: an ``unknown.ipxe`` of an
        earlier life (a proxy killed mid-inspection) goes, so that no
        machine boots the ramdisk for nothing."""
        with self._lock:
            self._unknown.clear()
            self._unlink(UNKNOWN_SCRIPT_NAME)
        self._write('boot.ipxe', boot_script(base_url), mode=0o644)

    def put(self, macs, text):
        """The same script for every MAC of a node."""
        for mac in macs:
            self._write(script_name(mac), text)

    def remove(self, macs):
        """Remove the node's scripts; a missing one is not an error."""
        for mac in macs:
            try:
                os.unlink(os.path.join(self.root, script_name(mac)))
            except FileNotFoundError:
                pass

    def open_to_unknown(self, text):
        """Boot ``text`` on machines whose MACs have no script (a node
        without MACs is being inspected; its ramdisk is found by its
        system UUID), until every key this returned is closed.

        :returns: the key to give :meth:`close_to_unknown`.
        """
        key = object()
        with self._lock:
            self._unknown.add(key)
            self._write(UNKNOWN_SCRIPT_NAME, text)
        return key

    def close_to_unknown(self, key):
        with self._lock:
            self._unknown.discard(key)
            if not self._unknown:
                self._unlink(UNKNOWN_SCRIPT_NAME)

    def _unlink(self, name):
        try:
            os.unlink(os.path.join(self.root, name))
        except FileNotFoundError:
            pass

    def read(self, mac):
        """The script of a MAC, or None."""
        try:
            with open(os.path.join(self.root, script_name(mac))) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _write(self, name, text, mode=0o644):
        path = os.path.join(self.root, name)
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-')
        try:
            with os.fdopen(fd, 'w') as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
