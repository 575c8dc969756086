#!/usr/bin/env bash
# The test command of README.rst's quick start. It does its own set-up:
# tox in a private virtualenv (.venv-tools), pinned by upper-constraints.txt,
# then tox's own environments for lint, unit/database and functional tests.
#   ./run_tests.sh                  # pep8, py3, functional (native
#                                   # threads), functional-eventlet, lab
#                                   # (real deploys on QEMU machines)
#   ./run_tests.sh -e py3 -- -n tests.unit.db   # any tox arguments
set -euo pipefail
cd "$(dirname "$0")"

# The IPMI tests talk to the fake BMCs with ipmitool and FreeIPMI too, and
# one loses packets on loopback with iptables (as root). The deploy tests
# fetch images with Nova's fetch_to_raw, which runs qemu-img.
missing=()
command -v ipmitool >/dev/null || missing+=(ipmitool)
command -v ipmipower >/dev/null || missing+=(freeipmi-tools)
PATH=$PATH:/usr/sbin:/sbin command -v iptables >/dev/null || missing+=(iptables)
command -v qemu-img >/dev/null || missing+=(qemu-utils)
# The lab tests boot the deploy ramdisk on QEMU machines (TCG).
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "run_tests.sh: install ${missing[*]} (Debian packages)" >&2
        exit 1
    fi
fi

. tools/tox-venv.sh

if [ $# -eq 0 ]; then
    set -- -e pep8,py3,functional,functional-eventlet,lab
fi
exec "$TOX" "$@"
