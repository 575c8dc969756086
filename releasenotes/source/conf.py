# nova-bm release notes: ``tox -e releasenotes`` (sphinx-build -W, then
# ``reno lint``).
#
# reno reads the notes under releasenotes/notes from git, not from the
# directory: a note is shown once it is committed, or added to git's index
# (``git add``), under the current version. An untracked note is not shown
# (this build names it); ``reno lint`` checks every note file, tracked or
# not. reno walks the branch's history back to its last tag (to the first
# commit while there is none), so it needs a whole clone: a shallow one
# fails here with one line instead of reno's traceback.

import os
import subprocess

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(_HERE))
NOTES = os.path.join('releasenotes', 'notes')

project = 'nova-bm release notes'
copyright = 'nova-bm developers'  # noqa: A001 (Sphinx's name)
author = 'nova-bm developers'
# Versions come from git tags through reno, not from the package.
version = ''
release = ''

extensions = [
    'reno.sphinxext',
]

master_doc = 'index'
exclude_patterns = []
pygments_style = 'sphinx'

html_theme = 'alabaster'
html_title = 'nova-bm release notes'
html_static_path = []


def _git(*args):
    """``git ARGS`` in the repository: its output, or None without git."""
    try:
        result = subprocess.run(['git', *args], cwd=ROOT,  # noqa: S603,S607
                                capture_output=True, text=True, check=False)
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


def _notes_only_repository():
    import shutil
    import tempfile
    scratch = tempfile.mkdtemp(prefix='nova-bm-relnotes-')
    shutil.copytree(os.path.join(ROOT, NOTES), os.path.join(scratch, NOTES))
    who = ('-c', 'user.name=nova-bm', '-c', 'user.email=nova-bm@localhost')
    for args in (('init', '-q'), ('add', '-A'),
                 who + ('commit', '-q', '-m', 'release notes')):
        subprocess.run(['git', *args], cwd=scratch,  # noqa: S603,S607
                       check=True, capture_output=True)
    return scratch


def _check_history(app):
    from sphinx.util import logging
    log = logging.getLogger(__name__)

    if (_git('rev-parse', '--is-shallow-repository') or '').strip() == 'true':
        # reno walks the whole history and fails at a shallow clone's
        # edge: build from a one-commit repository of the notes instead
        # (every note then shows under one heading). reno looks for the
        # repository from the working directory.
        os.chdir(_notes_only_repository())
        log.info('shallow clone: release notes read from a one-commit '
                 'copy of %s', NOTES)
    untracked = (_git('ls-files', '--others', '--exclude-standard', '--',
                      NOTES) or '').split()
    if untracked:
        log.info('not shown until added to git (git add): %s',
                 ', '.join(sorted(os.path.basename(n) for n in untracked)))


def setup(app):
    app.connect('builder-inited', _check_history)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
