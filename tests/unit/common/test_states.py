"""One state vocabulary: the provision states are spelt in one place."""

import os
import re

from nova_bm.common import states
from tests import base

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))), 'nova_bm')
# Where the words are data, not code that decides: the migrations keep
# what each release wrote.
ALLOWED = (os.path.join('common', 'states.py'),
           os.path.join('db', 'migrations'))


class StatesTestCase(base.TestCase):

    def test_provision_states_are_named_never_spelt(self):
        words = (states.CLEANING, states.CLEAN_FAILED, states.DEPLOYING,
                 states.DEPLOY_FAILED)
        literal = re.compile(r'''(['"])(%s)\1''' % '|'.join(
            re.escape(word) for word in words))
        spelt = []
        for root, _, files in os.walk(PACKAGE):
            for name in files:
                path = os.path.join(root, name)
                relative = os.path.relpath(path, PACKAGE)
                if not name.endswith('.py') or relative.startswith(ALLOWED):
                    continue
                with open(path) as f:
                    for number, line in enumerate(f, 1):
                        if literal.search(line):
                            spelt.append('%s:%d' % (relative, number))
        self.assertEqual([], spelt)

    def test_values_are_what_the_database_holds(self):
        # Written to bm_nodes and bm_deploy_jobs and shown to operators:
        # a change here is a migration, not a rename.
        self.assertEqual(
            ('available', 'deploying', 'active', 'deploy failed', 'cleaning',
             'clean failed'),
            (states.AVAILABLE, states.DEPLOYING, states.ACTIVE,
             states.DEPLOY_FAILED, states.CLEANING, states.CLEAN_FAILED))
        self.assertEqual(('waiting', 'done', 'failed', 'deploy', 'clean'),
                         (states.WAITING, states.DONE, states.FAILED,
                          states.DEPLOY, states.CLEAN))
        self.assertEqual(('image', 'netboot'), states.DEPLOY_INTERFACES)
