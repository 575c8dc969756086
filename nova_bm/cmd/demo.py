"""nova-bm-demo: the whole mission in one process, in under a minute.

Nova's API, conductor, scheduler (nova-bm-scheduler's manager), placement
and one nova-compute proxy with this driver run in-process on Nova's own
functional-test fixtures (SQLite, in-memory messaging: nothing to install
beyond pip), in front of a fleet of fake BMCs that speak real IPMI over
UDP on loopback. The demo enrols the nodes from a node file (the code of
``nova-bm-manage node import``), boots servers through Nova's REST API,
shows each node as its BMC reports it, deletes the servers and shows the
nodes off again. A failed step is named and the exit status is 1.
"""

import argparse
import logging
import os
import sys


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='nova-bm-demo',
        description='Boot bare-metal servers through a real Nova on fake '
                    'BMCs, all in this process.')
    parser.add_argument('--nodes', type=int, default=8, metavar='N',
                        help='bare-metal nodes (fake BMCs) to enrol '
                             '(default 8)')
    parser.add_argument('--servers', type=int, default=3, metavar='N',
                        help='servers to boot, each on a node of its own '
                             '(default 3)')
    parser.add_argument('--keep', action='store_true',
                        help='after the demo, boot the servers again and '
                             'keep everything running until Ctrl-C, for '
                             'nova-bm-manage and ipmitool')
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 200:
        parser.error('--nodes must be between 1 and 200')
    if not 1 <= args.servers <= args.nodes:
        parser.error('--servers must be between 1 and --nodes (%d)'
                     % args.nodes)
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
    return cloud.run(args.nodes, args.servers, keep=args.keep)


if __name__ == '__main__':
    sys.exit(main())
