"""The generated parts of the documentation cannot drift from the code.

``tox -e docs`` builds them from the installed package (doc/source/conf.py
says how); these tests check, without Sphinx, that every console script
has its page, that the text a page shows has every option of the script,
and that ``nova-bm-manage``'s pages see every command.
"""

import argparse
import configparser
import fnmatch
import importlib.util
import os
import re
from unittest import mock

import testtools

from nova_bm.cmd import manage

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = os.path.join(ROOT, 'doc', 'source')
MANAGE = 'nova-bm-manage'
SCHEDULER = 'nova-bm-scheduler'


def _read(*parts):
    with open(os.path.join(*parts), encoding='utf-8') as f:
        return f.read()


def _entry_points(group):
    """``{name: 'module:attr'}`` of one group of setup.cfg's
    ``[entry_points]``."""
    parser = configparser.RawConfigParser()
    parser.read(os.path.join(ROOT, 'setup.cfg'), encoding='utf-8')
    entries = {}
    for line in parser.get('entry_points', group).splitlines():
        if line.strip():
            name, _, value = line.partition('=')
            entries[name.strip()] = value.strip()
    return entries


def _doc_conf():
    """doc/source/conf.py as a module (it imports nothing of Sphinx at its
    top level)."""
    spec = importlib.util.spec_from_file_location(
        'nova_bm_doc_conf', os.path.join(DOC, 'conf.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Parser(Exception):
    def __init__(self, parser):
        super().__init__()
        self.parser = parser


def _argparse_options(target):
    """Every option string of the parser the console script ``target``
    ('module:function') builds, caught when it starts parsing."""
    module_name, _, function = target.partition(':')
    module = importlib.import_module(module_name)

    def catch(parser, *args, **kwargs):
        raise _Parser(parser)

    with mock.patch.object(argparse.ArgumentParser, 'parse_args', catch):
        try:
            getattr(module, function)(['--help'])
        except _Parser as caught:
            parser = caught.parser
        else:
            raise AssertionError('%s parsed no arguments' % target)
    return [option for action in parser._actions
            if action.help != argparse.SUPPRESS
            for option in action.option_strings]


class ConsoleScriptPagesTestCase(testtools.TestCase):

    def test_every_console_script_has_a_page_in_the_cli_index(self):
        index = _read(DOC, 'cli', 'index.rst')
        toctree = re.findall(r'^   (\S+)$', index, re.MULTILINE)
        for name in _entry_points('console_scripts'):
            self.assertIn(name, toctree)
            page = _read(DOC, 'cli', name + '.rst')
            if name == MANAGE:
                self.assertIn('.. autoprogram-cliff:: nova_bm.manage\n', page)
            else:
                self.assertIn('.. console-script-help:: %s\n' % name, page)

    def _check_help(self, name):
        target = _entry_points('console_scripts')[name]
        text = _doc_conf().console_script_help(name)
        self.assertTrue(text.startswith('usage: %s ' % name), text)
        if name == SCHEDULER:
            # Nova's command line (oslo.config), in a process of its own:
            # importing Nova here would patch this one with eventlet.
            options = ['--config-file', '--config-dir', '--debug',
                       '--log-file']
        else:
            options = _argparse_options(target)
            self.assertIn('--help', options)
        for option in options:
            self.assertIn(option, text, '%s --help' % name)

    def test_fakebmc_page_shows_every_option(self):
        self._check_help('nova-bm-fakebmc')

    def test_demo_page_shows_every_option(self):
        self._check_help('nova-bm-demo')

    def test_build_ramdisk_page_shows_every_option(self):
        self._check_help('nova-bm-build-ramdisk')

    def test_scheduler_page_shows_nova_s_command_line(self):
        self._check_help(SCHEDULER)

    def test_help_is_the_same_on_every_machine(self):
        # The cache's default is under the home directory: shown as ~.
        text = _doc_conf().console_script_help('nova-bm-build-ramdisk')
        self.assertIn('~/.cache/nova-bm-ramdisk', text)
        self.assertNotIn(os.path.expanduser('~/.cache'), text)


class ManagePageTestCase(testtools.TestCase):

    def test_commands_are_the_entry_point_namespace(self):
        # autoprogram-cliff documents the namespace; the application
        # registers COMMANDS: one list, twice.
        registered = {name.replace(' ', '_'): '%s:%s' % (
            command.__module__, command.__name__)
            for name, command in manage.COMMANDS.items()}
        self.assertEqual(registered, _entry_points('nova_bm.manage'))

    def test_every_command_is_on_the_page_once(self):
        page = _read(DOC, 'cli', MANAGE + '.rst')
        patterns = re.findall(r'^   :command: (.+?)\s*$', page, re.MULTILINE)
        self.assertTrue(patterns)
        for name in manage.COMMANDS:
            matches = [p for p in patterns if fnmatch.fnmatch(name, p)]
            self.assertEqual(1, len(matches), '%s: %s' % (name, matches))


class ConfigurationPagesTestCase(testtools.TestCase):

    def test_options_page_shows_the_project_namespace(self):
        namespaces = list(_entry_points('oslo.config.opts'))
        self.assertEqual(['nova_bm'], namespaces)
        page = _read(DOC, 'configuration', 'config.rst')
        shown = re.findall(r'^\.\. show-options::\n\n((?:   \S+\n)+)', page,
                           re.MULTILINE)
        self.assertEqual(namespaces, shown[0].split())
        generator = configparser.RawConfigParser()
        generator.read(os.path.join(
            ROOT, 'etc', 'nova-bm', 'nova-bm-config-generator.conf'))
        self.assertEqual(namespaces,
                         generator.get('DEFAULT', 'namespace').split())

    def test_sample_page_includes_what_the_generator_writes(self):
        conf = _doc_conf()
        (generator_conf, base_name), = conf.config_generator_config_file
        self.assertTrue(os.path.isfile(generator_conf), generator_conf)
        written = os.path.normpath(os.path.join(DOC, base_name +
                                                '.conf.sample'))
        page = _read(DOC, 'configuration', 'sample-config.rst')
        included = re.findall(r'^\.\. literalinclude:: (\S+)$', page,
                              re.MULTILINE)
        self.assertEqual([written], [os.path.normpath(os.path.join(
            DOC, 'configuration', path)) for path in included])
