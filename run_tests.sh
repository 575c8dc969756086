#!/usr/bin/env bash
# The test command of README.rst's quick start. It does its own set-up:
# tox in a private virtualenv (.venv-tools), pinned by upper-constraints.txt,
# then tox's own environments for lint, unit/database, functional and lab
# tests, and the documentation and release notes.
#   ./run_tests.sh                  # pep8, py3, functional (native
#                                   # threads), functional-eventlet, lab
#                                   # (real deploys on QEMU machines),
#                                   # docs and releasenotes (Sphinx, -W)
#   ./run_tests.sh -e py3 -- -n tests.unit.db   # any tox arguments
set -euo pipefail
cd "$(dirname "$0")"

# The IPMI tests talk to the fake BMCs with ipmitool and FreeIPMI too, and
# one loses packets on loopback with iptables (as root). The deploy tests
# fetch images with Nova's fetch_to_raw, which runs qemu-img. The lab tests
# boot the deploy ramdisk (built from Debian's packages, downloaded with
# apt-get) on QEMU machines (TCG). The image-serving benchmark, kept
# running by a test, measures the deploy HTTP server against nginx (curl).
# Config drives are ISO 9660 images from Nova's builder (genisoimage); the
# lab's instance image that reads them boots with SYSLINUX (syslinux,
# mtools).
. tools/debian-packages.sh
debian_packages run_tests.sh ipmitool:ipmitool ipmipower:freeipmi-tools \
    iptables:iptables qemu-img:qemu-utils \
    qemu-system-x86_64:qemu-system-x86 dpkg-deb:dpkg nginx:nginx curl:curl \
    genisoimage:genisoimage syslinux:syslinux mcopy:mtools \
    /usr/share/OVMF/OVMF_CODE_4M.fd:ovmf \
    grub-mkstandalone:grub-common xz:xz-utils \
    /usr/lib/grub/x86_64-efi/linux.mod:grub-efi-amd64-bin

. tools/tox-venv.sh

if [ $# -eq 0 ]; then
    set -- -e pep8,py3,functional,functional-eventlet,lab,docs,releasenotes
fi
exec "$TOX" "$@"
