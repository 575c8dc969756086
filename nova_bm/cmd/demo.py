"""nova-bm-demo: the whole mission in one process.

Nova's API, conductor, scheduler (nova-bm-scheduler's manager), placement
and one nova-compute proxy with this driver run in-process on Nova's own
functional-test fixtures (SQLite, in-memory messaging), in front of a fleet
of fake BMCs that speak real IPMI over UDP on loopback, each driving a QEMU
machine. The demo builds the deploy ramdisk, enrols the nodes from a node
file (the code of ``nova-bm-manage node import``), boots servers through
Nova's REST API (real deploys: each image written to its machine's disk,
which then boots it), shows each node as its BMC and its console report
it, deletes the servers and shows the nodes cleaned. ``--no-machines``: the
power-only demo (BMCs alone, nothing written), under a minute. A failed
step is named and the exit status is 1.
"""

import argparse
import logging
import os
import shutil
import sys

# Each machine is a QEMU process of 512 MB emulated without KVM (TCG).
MAX_MACHINES = 8
LAB_TOOLS = ('qemu-system-x86_64', 'apt-get', 'dpkg-deb')


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='nova-bm-demo',
        description='Boot bare-metal servers through a real Nova on fake '
                    'BMCs, all in this process.')
    parser.add_argument('--nodes', type=int, metavar='N',
                        help='bare-metal nodes (fake BMCs) to enrol '
                             '(default 3 with machines, 8 without)')
    parser.add_argument('--servers', type=int, metavar='N',
                        help='servers to boot, each on a node of its own '
                             '(default 2 with machines, 3 without)')
    parser.add_argument('--no-machines', dest='machines',
                        action='store_false',
                        help='BMCs without QEMU machines: power only, '
                             'nothing deployed (under a minute)')
    parser.add_argument('--keep', action='store_true',
                        help='after the servers are booted, keep '
                             'everything running until Ctrl-C, for '
                             'nova-bm-manage and ipmitool')
    args = parser.parse_args(argv)
    if args.nodes is None:
        args.nodes = 3 if args.machines else 8
    if args.servers is None:
        args.servers = min(2 if args.machines else 3, args.nodes)
    most = MAX_MACHINES if args.machines else 200
    if not 1 <= args.nodes <= most:
        parser.error('--nodes must be between 1 and %d%s' % (
            most, ' with machines' if args.machines else ''))
    if not 1 <= args.servers <= args.nodes:
        parser.error('--servers must be between 1 and --nodes (%d)'
                     % args.nodes)
    if args.machines:
        missing = [tool for tool in LAB_TOOLS if shutil.which(tool) is None]
        if missing:
            parser.error('the machines need %s (Debian: qemu-system-x86, '
                         'apt, dpkg; ./run_demo.sh installs QEMU), or use '
                         '--no-machines' % ', '.join(missing))
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Nova 34's default concurrency mode for its services, applied before
    # Nova's functional package is imported (it monkey-patches at import).
    os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')
    # Importing Nova's services logs INFO lines (periodic tasks skipped)
    # before the demo can route logging anywhere; they are not progress.
    logging.disable(logging.INFO)
    try:
        from nova_bm.demo import cloud
    finally:
        logging.disable(logging.NOTSET)
    return cloud.run(args.nodes, args.servers, keep=args.keep,
                     machines=args.machines)


if __name__ == '__main__':
    sys.exit(main())
