# nova-bm documentation: ``tox -e docs`` (sphinx-build -W, warnings are
# errors). Three parts are generated from the installed package at build
# time, so they cannot drift from the code:
#
# * configuration/: ``.. show-options:: nova_bm`` (oslo_config.sphinxext)
#   renders the options of the ``oslo.config.opts`` entry point
#   ``nova_bm``; oslo_config.sphinxconfiggen writes the sample config from
#   etc/nova-bm/nova-bm-config-generator.conf into doc/build/ (ignored by
#   git) for configuration/sample-config.rst to include;
# * cli/nova-bm-manage.rst: ``.. autoprogram-cliff::`` (cliff.sphinxext)
#   over the entry-point namespace ``nova_bm.manage`` (setup.cfg);
# * the other cli/ pages: ``.. console-script-help:: NAME``, defined below,
#   runs the installed console script with ``--help`` and shows what it
#   printed (tests/unit/test_docs.py checks every option is there).
#
# This file imports nothing of Sphinx at its top level: the unit test loads
# it for console_script_help().

import importlib.metadata
import os
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(_HERE))
DIST = 'nova-bm'

# -- General -----------------------------------------------------------------

project = 'nova-bm'
copyright = 'nova-bm developers'  # noqa: A001 (Sphinx's name)
author = 'nova-bm developers'
try:
    release = importlib.metadata.version(DIST)
except importlib.metadata.PackageNotFoundError:
    release = 'unknown'
version = release

extensions = [
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
    'cliff.sphinxext',
]

master_doc = 'index'
exclude_patterns = []
pygments_style = 'sphinx'

# -- oslo_config.sphinxconfiggen ---------------------------------------------

# (generator config, output base name relative to this directory): the
# sample lands in doc/build/nova-bm.conf.sample, outside the source tree
# and ignored by git.
config_generator_config_file = [
    (os.path.join(ROOT, 'etc', 'nova-bm', 'nova-bm-config-generator.conf'),
     os.path.join('..', 'build', 'nova-bm')),
]

# -- cliff.sphinxext ---------------------------------------------------------

autoprogram_cliff_application = 'nova-bm-manage'
# The commands are nova-bm's own, not a plugin's: no "provided by" line.
autoprogram_cliff_app_dist_name = DIST
# Shown once, on the page's introduction, rather than under every listing.
autoprogram_cliff_ignored = [
    '--help', '--format', '--column', '--max-width', '--fit-width',
    '--print-empty', '--noindent', '--quote', '--sort-column',
    '--sort-ascending', '--sort-descending', '--prefix',
]

# -- HTML --------------------------------------------------------------------

html_theme = 'alabaster'
html_title = 'nova-bm %s' % release
html_static_path = []
html_theme_options = {
    'description': 'One nova-compute for many bare-metal machines',
    'show_relbars': True,
}

# -- console-script-help ------------------------------------------------------

#: Width argparse and oslo.config wrap help to, whatever the terminal.
HELP_COLUMNS = '79'


def console_scripts():
    """``{name: 'module:function'}`` of the installed package's scripts."""
    return {ep.name: ep.value
            for ep in importlib.metadata.distribution(DIST).entry_points
            if ep.group == 'console_scripts'}


def console_script_help(name):
    """What ``NAME --help`` prints: the installed console script, run in a
    process of its own (nova-bm-scheduler imports Nova, which patches
    eventlet in at import), with a fixed width and ``~`` for the home
    directory, so the page is the same on every machine.

    :raises: RuntimeError naming the script when it fails.
    """
    target = console_scripts().get(name)
    if target is None:
        raise RuntimeError('%s is not a console script of %s' % (name, DIST))
    module, _, function = target.partition(':')
    code = ('import sys; sys.argv[0] = %r; from %s import %s as main; '
            'sys.exit(main())' % (name, module, function))
    env = dict(os.environ, COLUMNS=HELP_COLUMNS, HOME='~',
               OS_NOVA_DISABLE_EVENTLET_PATCHING='1')
    env.pop('PYTHONWARNINGS', None)
    command = [sys.executable, '-c', code, '--help']
    result = subprocess.run(command, capture_output=True,  # noqa: S603
                            text=True, env=env, cwd=ROOT, timeout=300,
                            check=False)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError('%s --help failed (exit status %s): %s' % (
            name, result.returncode, result.stderr.strip()[-2000:]))
    return result.stdout.rstrip() + '\n'


def _plain_help(cliff_format):
    """cliff's formatter of one argparse action, with the action's help
    shown as the plain text it is (a terminal's, not reStructuredText):
    ``Directory of *.conf files`` is not the start of an emphasis."""
    import copy
    import re
    markup = re.compile(r'([\\*`|])')

    def format_action(action):
        if action.help:
            action = copy.copy(action)
            action.help = markup.sub(r'\\\1', action.help)
        return cliff_format(action)
    return format_action


def setup(app):
    from cliff import sphinxext as cliff_sphinxext
    from docutils import nodes
    from docutils.parsers.rst import Directive

    for name in ('_format_optional_action', '_format_positional_action'):
        setattr(cliff_sphinxext, name,
                _plain_help(getattr(cliff_sphinxext, name)))

    class ConsoleScriptHelp(Directive):
        """``.. console-script-help:: NAME``: NAME's ``--help``, verbatim."""

        required_arguments = 1
        has_content = False

        def run(self):
            name = self.arguments[0]
            try:
                text = console_script_help(name)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                raise self.error(str(e)) from None
            block = nodes.literal_block(text, text)
            block['language'] = 'text'
            return [block]

    app.add_directive('console-script-help', ConsoleScriptHelp)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
