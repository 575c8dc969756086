"""Options of the ``[baremetal_database]`` group: where the node database is.

These are oslo.db's own options (``connection``, ``max_pool_size``, …), so
operators configure the node database exactly as they configure Nova's
``[database]``. Only the default connection differs: an SQLite file under
Nova's ``$state_path``, so a single proxy needs nothing installed.
"""

import copy

from oslo_config import cfg
from oslo_db import options as db_options

GROUP = cfg.OptGroup(
    'baremetal_database',
    title='Bare-metal node database',
    help='The database holding the bare-metal nodes (oslo.db options). '
         'Several nova-compute proxies that share nodes must point at the '
         'same MariaDB/MySQL or PostgreSQL database.')

DEFAULT_CONNECTION = 'sqlite:///$state_path/nova_bm.sqlite'


def _node_db_opts():
    opts = copy.deepcopy(db_options.database_opts)
    for opt in opts:
        if opt.name == 'connection':
            opt.default = DEFAULT_CONNECTION
            opt.help = ('SQLAlchemy URL of the node database, for example '
                        'mysql+pymysql://nova_bm:PASSWORD@db/nova_bm. '
                        'Defaults to an SQLite file under $state_path.')
    return opts


opts = _node_db_opts()


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
