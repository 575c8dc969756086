"""Enrolment: ``nova-bm-manage node import`` of 10,000 nodes into SQLite.

Measures, in the same run:

* nova-bm: the installed ``nova-bm-manage node import`` console script on a
  generated Ironic-style JSON file (N nodes, one port each), start-up,
  parsing, validation, duplicate checks and the atomic write included;
* reference: the floor for the same rows, a bare SQLAlchemy executemany of
  the node and port rows into an empty SQLite file of the same schema.

Goal (issue "Foundation"): the whole import in at most 10 s.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

NODES = int(os.environ.get('NOVA_BM_BENCH_ENROL_NODES', 10000))
GOAL_SECONDS = 10.0


def _node(index):
    return {
        'name': 'bench-%05d' % index,
        'driver': 'ipmi',
        'resource_class': 'baremetal',
        'driver_info': {
            'ipmi_address': '10.%d.%d.%d' % (
                index >> 16 & 255, index >> 8 & 255, index & 255),
            'ipmi_port': 623, 'ipmi_username': 'admin',
            'ipmi_password': 'bench-password'},
        'properties': {'cpus': 32, 'memory_mb': 131072, 'local_gb': 480,
                       'cpu_arch': 'x86_64'},
        'ports': [{'address': '52:54:%02x:%02x:%02x:%02x' % (
            index >> 24 & 255, index >> 16 & 255, index >> 8 & 255,
            index & 255)}],
    }


def _manage(config, *args):
    script = shutil.which('nova-bm-manage',
                          path=os.path.dirname(sys.executable))
    subprocess.run([script or 'nova-bm-manage', '--config-file', config]
                   + list(args), check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.PIPE)


def _reference(workdir, nodes):
    """Bare executemany of the same rows: what any importer must pay."""
    import sqlalchemy as sa

    from nova_bm.db import models
    engine = sa.create_engine('sqlite:///%s' % os.path.join(workdir,
                                                           'ref.sqlite'))
    models.Base.metadata.create_all(engine)
    start = time.perf_counter()
    with engine.begin() as connection:
        node_rows = [{
            'uuid': '00000000-0000-4000-8000-%012d' % i, 'name': n['name'],
            'service_host': 'proxy-1', 'cpus': 32, 'memory_mb': 131072,
            'local_gb': 480, 'cpu_arch': 'x86_64',
            'resource_class': 'baremetal', 'traits': [],
            'ipmi_address': n['driver_info']['ipmi_address'],
            'ipmi_port': 623, 'ipmi_username': 'admin',
            'ipmi_password': 'bench-password', 'provision_state': 'available',
            'maintenance': False} for i, n in enumerate(nodes)]
        connection.execute(sa.insert(models.Node), node_rows)
        connection.execute(sa.insert(models.Interface), [
            {'node_id': i + 1, 'address': n['ports'][0]['address']}
            for i, n in enumerate(nodes)])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def run():
    """Return the benchmark's rows for the summary table."""
    workdir = tempfile.mkdtemp(prefix='nova_bm_bench_enrol_')
    try:
        config = os.path.join(workdir, 'nova.conf')
        with open(config, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\nhost = proxy-1\n' % workdir)
        nodes = [_node(i) for i in range(NODES)]
        path = os.path.join(workdir, 'nodes.json')
        with open(path, 'w') as f:
            json.dump({'nodes': nodes}, f)
        _manage(config, 'db', 'sync')
        start = time.perf_counter()
        _manage(config, 'node', 'import', path, '--host', 'proxy-1')
        elapsed = time.perf_counter() - start
        reference = _reference(workdir, nodes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print('enrol: %d nodes + %d ports imported in %.2f s (%.0f nodes/s); '
          'bare executemany of the same rows %.2f s; goal <= %.0f s'
          % (NODES, NODES, elapsed, NODES / elapsed, reference, GOAL_SECONDS))
    return [{
        'work': 'node import, %d nodes + ports (SQLite, CLI)' % NODES,
        'nova_bm': '%.2f s (%.0f nodes/s)' % (elapsed, NODES / elapsed),
        'reference': '%.2f s bare executemany' % reference,
        'ratio': elapsed / reference,
        'goal': '<= %.0f s' % GOAL_SECONDS,
        'met': elapsed <= GOAL_SECONDS,
    }]


if __name__ == '__main__':
    run()
