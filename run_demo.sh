#!/usr/bin/env bash
# The demo command of README.rst's quick start. It does its own set-up:
# tox in a private virtualenv (.venv-tools), then tox's "demo" environment
# (Nova, nova-bm and their test fixtures, pinned by upper-constraints.txt),
# which runs nova-bm-demo: a real Nova in one process booting servers on
# fake bare-metal nodes.
#   ./run_demo.sh                          # 8 nodes, 3 servers
#   ./run_demo.sh --nodes 20 --servers 5 --keep
set -euo pipefail
cd "$(dirname "$0")"
. tools/tox-venv.sh
exec "$TOX" -q -e demo -- "$@"
