#!/usr/bin/env bash
# The demo command of README.rst's quick start. It does its own set-up:
# QEMU from Debian when missing (the demo's nodes are QEMU machines behind
# fake BMCs), tox in a private virtualenv (.venv-tools), then tox's "demo"
# environment (Nova, nova-bm and their test fixtures, pinned by
# upper-constraints.txt), which runs nova-bm-demo: a real Nova in one
# process deploying servers onto the machines.
#   ./run_demo.sh                          # 3 machines, 2 real deploys
#   ./run_demo.sh --no-machines            # power only: 8 nodes, 3 servers
#   ./run_demo.sh --nodes 4 --servers 3 --keep
set -euo pipefail
cd "$(dirname "$0")"

# The machines need QEMU, and the deploy ramdisk Debian's packages (apt).
machines=yes
for arg in "$@"; do
    [ "$arg" = --no-machines ] && machines=no
done
if [ $machines = yes ]; then
    . tools/debian-packages.sh
    debian_packages run_demo.sh qemu-system-x86_64:qemu-system-x86 \
        dpkg-deb:dpkg genisoimage:genisoimage syslinux:syslinux mcopy:mtools \
        /usr/share/OVMF/OVMF_CODE_4M.fd:ovmf \
        grub-mkstandalone:grub-common xz:xz-utils \
        /usr/lib/grub/x86_64-efi/linux.mod:grub-efi-amd64-bin
fi

. tools/tox-venv.sh
exec "$TOX" -q -e demo -- "$@"
