"""The layer rule, read from the code: nothing imports upward.

driver → proxy → {deploy, power, console, network, db, enrolment,
inspection} → {common, conf, exception}; the driver reaches the mechanisms
only through the proxy. The entry points beside the stack (cli, cmd,
scheduler, demo, testing, ramdisk) use the layers below the proxy, never
the proxy or the driver; no layer imports an entry point.
"""

import ast
import os

import testtools

import nova_bm

ROOT = os.path.dirname(os.path.abspath(nova_bm.__file__))

#: Rank of each top-level part of nova_bm; a module imports only parts of
#: its own rank or below.
RANKS = {
    'driver': 4,
    'proxy': 3,
    'deploy': 2, 'power': 2, 'console': 2, 'network': 2, 'db': 2,
    'enrolment': 2, 'inspection': 2,
    'common': 1, 'conf': 1, 'exception': 1,
}
ENTRY_POINTS = {'cli', 'cmd', 'scheduler', 'demo', 'testing', 'ramdisk'}


def part_of(module):
    """``nova_bm.proxy.task`` → ``proxy``; ``nova_bm`` → None."""
    names = module.split('.')
    return names[1] if len(names) > 1 else None


def imported_modules(source, module):
    """Every nova_bm module ``source`` (the text of ``module``) imports,
    at any depth (function-level imports included)."""
    found = set()
    package = module if module.endswith('__init__') else module.rsplit(
        '.', 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names
                         if alias.name.startswith('nova_bm'))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = package.split('.')[:len(package.split('.'))
                                            - node.level + 1]
                base = '.'.join(parent + ([base] if base else []))
            if not base.startswith('nova_bm'):
                continue
            for alias in node.names:
                found.add('%s.%s' % (base, alias.name))
    return found


def violations(module, imports):
    """Lines saying which of ``imports`` break the rule for ``module``."""
    mine = part_of(module)
    found = []
    for imported in sorted(imports):
        theirs = part_of(imported)
        if theirs is None or theirs == mine:
            continue
        if mine in ENTRY_POINTS:
            bad = theirs in ('proxy', 'driver')
        elif mine == 'driver':
            bad = theirs != 'proxy' and RANKS.get(theirs) != 1
        elif mine in RANKS:
            bad = (theirs in ENTRY_POINTS or
                   RANKS.get(theirs, 0) > RANKS[mine])
        else:
            bad = False
        if bad:
            found.append('%s imports %s' % (module, imported))
    return found


def modules():
    for directory, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, os.path.dirname(ROOT))
                yield relative[:-3].replace(os.sep, '.'), path


class LayerTestCase(testtools.TestCase):

    def test_every_part_has_a_place(self):
        parts = {part_of(module) for module, _ in modules()} - {
            '__init__', 'version'}
        self.assertEqual(set(), parts - set(RANKS) - ENTRY_POINTS,
                         'a new package needs a rank in this test')

    def test_nothing_imports_upward(self):
        found = []
        for module, path in modules():
            with open(path) as f:
                found += violations(module, imported_modules(f.read(),
                                                             module))
        self.assertEqual([], found)

    def test_an_upward_import_is_seen(self):
        # The checker itself: each kind of upward import is reported.
        cases = {
            'nova_bm.deploy.flow': 'from nova_bm.proxy import provision\n',
            'nova_bm.common.states': 'def f():\n    from nova_bm import db\n',
            'nova_bm.db.nodes': 'import nova_bm.driver\n',
            'nova_bm.cli.power': 'from nova_bm.proxy import manager\n',
            'nova_bm.power.ipmi': 'from nova_bm.testing import fakebmc\n',
            'nova_bm.proxy.cycle': 'from .. import driver\n',
            'nova_bm.driver': 'from nova_bm.deploy import image_checks\n',
        }
        for module, source in cases.items():
            self.assertEqual(1, len(violations(
                module, imported_modules(source, module))), module)
        # And what the rule allows is not.
        self.assertEqual([], violations('nova_bm.proxy.cycle', {
            'nova_bm.deploy.flow', 'nova_bm.common.states',
            'nova_bm.exception', 'nova_bm.proxy.provision'}))
