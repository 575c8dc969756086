"""UEFI deploys against BIOS deploys, phase by phase, in one run.

``python -m benchmarks.boot_mode_case ROUNDS`` prints JSON: ROUNDS times,
alternating (the order swapped every round), one server through Nova's
API forced onto node 0, a SeaBIOS machine, with the lab's BIOS Linux
image (MBR and SYSLINUX; Glance ``hw_firmware_type=bios``), and one forced
onto node 1, an OVMF machine (its own NVRAM), with the lab's UEFI Linux
image (GPT, an EFI System Partition, GRUB's ``BOOTX64.EFI``;
``hw_firmware_type=uefi``): one after the other, not at once (the machines
share two cores). Each node is enrolled with its machine's boot mode. The
two images boot the same Debian kernel and busybox initramfs, which print
the image's marker, then which firmware booted them: each run checks that
line (its ``firmware``), so the comparison cannot be two BIOS boots. Each
image is built once and deployed every round.

Each run is measured as ``deploy_case`` measures nova-bm's deploys, from
the machine's own clocks: ``before`` (request → first power on),
``ramdisk`` (→ the ramdisk has its config: firmware, iPXE, kernel),
``write`` (→ the ramdisk powers off), ``switch`` (→ power on from disk),
``boot`` (→ the image's marker), ``total``; and ``active`` (request →
ACTIVE). The server is deleted and the machine powered off between runs.
As in ``deploy_case``: the product's poll intervals, cleaning off, disks
of 128 MiB (sparse files; only the image is written).
"""

import nova.tests.functional  # noqa: F401  (first: concurrency mode)

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from benchmarks import deploy_case  # noqa: E402
from benchmarks import nova_harness  # noqa: E402
from nova_bm.testing import images  # noqa: E402
from nova_bm.testing import linux_image  # noqa: E402
from tests import lab  # noqa: E402
from tests.lab import test_deploy as lab_deploy  # noqa: E402

RESULT = {}
#: Fleet index -> firmware: the machine's, its node's boot mode, the
#: image's ``hw_firmware_type``.
MODES = ('bios', 'uefi')
#: The Linux image deployed onto each kind of machine, by firmware.
LABELS = {mode: '%s-linux' % mode for mode in MODES}
#: What the image prints after its marker, by the firmware that booted it.
FIRMWARE_LINES = {mode: 'nova-bm-lab: firmware %s' % mode
                  for mode in MODES}
#: The image prints its firmware line right after its marker.
FIRMWARE_WAIT = 60


def make_case(rounds):

    class BootModes(deploy_case.LabDeploys):
        NODES = len(MODES)

        def machines(self):
            return dict(super().machines(), boot_modes=list(MODES))

        def image_bytes(self, label):
            firmware = next((mode for mode, name in LABELS.items()
                             if name == label), None)
            if firmware is None:  # the harness's own image (setUp)
                return super().image_bytes(label)
            path = os.path.join(self.machine_root, 'linux-%s.img' % label)
            linux_image.build(path, label, os.path.join(lab.CACHE, 'debs'),
                              firmware=firmware)
            with open(path, 'rb') as f:
                return f.read()

        def test_boot_modes(self):
            self.product_polls()
            for index, mode in enumerate(MODES):
                node = self.node(self.node_name(index))
                if node.boot_mode != mode:
                    raise AssertionError('%s is enrolled %s, its machine %s'
                                         % (node.name, node.boot_mode, mode))
            self.start_proxy()
            glance = {mode: self.glance_image(
                LABELS[mode], properties={'hw_firmware_type': mode})
                for mode in MODES}
            result = {mode: [] for mode in MODES}
            for round_ in range(rounds):
                order = MODES if round_ % 2 == 0 else MODES[::-1]
                for mode in order:
                    index = MODES.index(mode)
                    run = self.nova_deploys([index], glance[mode],
                                            LABELS[mode])
                    if run['firmware'] != mode:
                        raise AssertionError(
                            'node %d (%s) booted its image with %s firmware'
                            % (index, mode, run['firmware']))
                    result[mode].append(run)
                    self.power_off([index])
            RESULT.update(result)

        def watch(self, indexes, label):
            paths = [self.serial_log(i) for i in indexes]
            return deploy_case.ConsoleWatch(paths, {path: (
                deploy_case.CONFIG_LINE, deploy_case.DRIVE_LINE,
                deploy_case.OFF_LINE, images.marker(label))
                + tuple(FIRMWARE_LINES.values()) for path in paths})

        def phases(self, watch, indexes, label, start):
            """``deploy_case``'s phases, and ``firmware``: which firmware
            the image said booted it, after its marker (the machines'
            sorted list if they differed)."""
            try:
                found = {self.firmware(watch, index, label)
                         for index in indexes}
            except BaseException:
                watch.stop()
                raise
            phases = super().phases(watch, indexes, label, start)
            phases['firmware'] = (found.pop() if len(found) == 1
                                  else sorted(found))
            return phases

        def firmware(self, watch, index, label):
            path = self.serial_log(index)
            marker = watch.wait(path, images.marker(label),
                                lab_deploy.SETTLE)
            deadline = time.monotonic() + FIRMWARE_WAIT
            while True:
                seen = {mode: watch.seen[path][line]
                        for mode, line in FIRMWARE_LINES.items()
                        if line in watch.seen[path]}
                if seen or time.monotonic() > deadline:
                    break
                time.sleep(deploy_case.POLL)
            modes = [mode for mode, when in seen.items() if when >= marker]
            if len(modes) != 1:
                raise AssertionError(
                    '%s: after %r, firmware lines %s (expected one)'
                    % (path, images.marker(label), sorted(seen)))
            return modes[0]

    return BootModes('test_boot_modes')


def main(rounds):
    return nova_harness.run_case(make_case(rounds), RESULT)


if __name__ == '__main__':
    sys.exit(main(int(sys.argv[1])))
