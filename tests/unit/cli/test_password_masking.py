"""A password typed after a mistyped password option is never shown.

Issue 33 (operator review), finding 6: ``--ipmi-passwd s3cret``,
``--ipmi_password s3cret``, ``--password s3cret`` and ``--ipmi-pasword=s3cret``
all echoed ``s3cret`` in the usage error. These tests generate the ways an
operator may mistype a password option (dashes and underscores, case,
prefixes, and every one-character deletion, substitution and transposition
of ``--ipmi-password`` and ``--password``; the value after a space or an
``=``) and run the real ``nova-bm-manage`` entry point with each, on
several commands: the secret must appear neither on stdout nor on stderr,
and the exit status must be 2 (a usage error: nothing ran).
"""

import contextlib
import io
import logging

from nova_bm.cmd import manage
from tests.unit.cli import base
from tests.unit.cli import test_manage
from tests import utils

SECRET = 'Fz-s3cret-77'
# One with what a message may quote or escape: a space, quotes, a
# backslash, "@" and "=".
AWKWARD_SECRET = 'p@ss w0rd"\'\\x=1'
# What argparse accepts as a password option of node create and node
# update: not a mistake, so not a usage error.
ACCEPTED = {'--ipmi-password'} | {
    '--ipmi-password-file'[:n]
    for n in range(len('--ipmi-password') + 1, len('--ipmi-password-file')
                   + 1)}
# Substitutes tried at each position: a letter, a capital, a digit, and the
# separators an option name may carry.
SUBSTITUTES = 'xQ0-_=.'
# Spellings an operator's review found, and their kin.
FOUND_IN_REVIEW = (
    '--ipmi-passwd', '--ipmi_password', '--password', '--ipmi-pasword',
    '--pass', '--ipmi-pw', '--bmc-password', '--passwd', '--pw', '--pwd',
    '--ipmi-pass', '--bmc-pw', '--ipmi-secret', '--IPMI-PASSWORD',
    '--Password', '-password', '---ipmi-password', '\u2014ipmi-password',
    '\u2013password', '--ipmi_pass_word', '--ipmipassword')


def _edits(option):
    """``option`` with one character deleted, substituted or transposed."""
    found = set()
    for i, char in enumerate(option):
        found.add(option[:i] + option[i + 1:])
        for substitute in SUBSTITUTES:
            if substitute != char:
                found.add(option[:i] + substitute + option[i + 1:])
        if i + 1 < len(option) and option[i + 1] != char:
            found.add(option[:i] + option[i + 1] + char + option[i + 2:])
    return found


def _separators(option):
    """``option`` with its dashes as underscores, all or one at a time."""
    name = option.lstrip('-')
    found = {'--' + name.replace('-', '_'), '-' + name, '--' + name.upper()}
    for i, char in enumerate(name):
        if char == '-':
            found.add('--' + name[:i] + '_' + name[i + 1:])
    return found


def spellings():
    """Every spelling tried, sorted."""
    found = set(FOUND_IN_REVIEW)
    for option, shortest in (('--ipmi-password', '--ipmi-p'),
                             ('--password', '--pas')):
        found |= _edits(option) | _separators(option)
        found |= {option[:n] for n in range(len(shortest), len(option))}
    return sorted(found - ACCEPTED - {''})


def forms(spelling, secret):
    """The value after a space, and after an "="."""
    return ([spelling, secret], ['%s=%s' % (spelling, secret)])


class SpellingsTestCase(base.ManageTestCase):
    """The generator generates what the review found, and more."""

    def test_spellings(self):
        generated = spellings()
        for spelling in ('--ipmi-passwd', '--ipmi_password', '--password',
                         '--ipmi-pasword', '--pass', '--ipmi-pw',
                         '--bmc-password', '--ipmi-passowrd',
                         '--ipmi-pssword', '--ipmi-xassword',
                         'x-ipmi-password', '-ipmi-password',
                         '--ipmi_password', '--ipmi-passw', '--pasword'):
            self.assertIn(spelling, generated)
        self.assertNotIn('--ipmi-password', generated)
        self.assertGreater(len(generated), 200)


class MaskingTestCase(base.ManageTestCase):

    # The options that make each command complete, so that the mistyped
    # option is the only mistake: argparse then echoes it and its value.
    CREATE = [arg for arg in test_manage.create_args(
        1, **{'--ipmi-password': None})] + [
        '--ipmi-password-file', '/nonexistent/pw']

    def run_one(self, argv):
        stdout, stderr = io.StringIO(), io.StringIO()
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            with contextlib.redirect_stdout(stdout), \
                    contextlib.redirect_stderr(stderr):
                code = manage.main(['--config-file', self.config_file]
                                   + argv)
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        return code, stdout.getvalue(), stderr.getvalue()

    def check(self, command, secrets=(SECRET,), candidates=None):
        leaks = []
        for spelling in candidates or spellings():
            for secret in secrets:
                for form in forms(spelling, secret):
                    argv = list(command) + form
                    code, out, err = self.run_one(argv)
                    shown = [s for s in (secret, repr(secret)[1:-1])
                             if s in out + err]
                    if shown or code != 2 or 'Traceback' in out + err:
                        leaks.append('%r -> %s: %r %r' % (argv, code, out,
                                                          err))
        self.assertEqual([], leaks, '%d of the runs failed' % len(leaks))

    def test_node_create(self):
        self.check(self.CREATE)

    def test_node_update(self):
        self.check(['node', 'update', 'node-1'])

    def test_interface_add(self):
        self.check(['interface', 'add', 'node-1', utils.mac(9)])

    def test_mistyped_command(self):
        self.check(['nodes', 'create'])

    def test_unknown_command_word(self):
        # The password option may be taken for a command word.
        self.check(['frobnicate'])

    def test_ironic_command(self):
        self.check(['node', 'set', 'node-1'])

    def test_help(self):
        # A word without a dash is a command word to help, which shows the
        # help of node create: only options are usage errors.
        self.check(['help', 'node', 'create'],
                   candidates=[s for s in spellings() if s[0] == '-'])

    def test_awkward_secret(self):
        for command in (self.CREATE, ['node', 'update', 'node-1'],
                        ['interface', 'add', 'node-1', utils.mac(9)],
                        ['nodes', 'create'], ['node', 'set', 'node-1']):
            self.check(command, secrets=(AWKWARD_SECRET,),
                       candidates=FOUND_IN_REVIEW)

    def test_ironic_driver_info(self):
        for command in (self.CREATE, ['node', 'update', 'node-1'],
                        ['node', 'set', 'node-1']):
            for secret in (SECRET, AWKWARD_SECRET):
                for argv in (['--driver-info', 'ipmi_password=' + secret],
                             ['--driver-info=ipmi_password=' + secret],
                             ['--driver_info', 'ipmi_pasword=' + secret],
                             ['--property', 'password=' + secret]):
                    code, out, err = self.run_one(command + argv)
                    self.assertEqual(2, code, err)
                    self.assertNotIn(secret, out + err)

    def test_no_part_of_a_secret_in_a_hint(self):
        # Found in review: the hint cut a long value at 40 characters, and
        # redaction did not see the cut secret.
        secret = 'Sup3rS3cretPw12'
        code, out, err = self.run_one(
            ['node', 'update', 'node-1', '--driver-info',
             'ipmi_username=administrator,ipmi_password=' + secret])
        self.assertEqual(2, code, err)
        self.assertNotIn(secret[:6], out + err)


class DatabaseUrlTestCase(base.ManageTestCase):
    """The password SQLAlchemy reads in a URL is masked however the URL
    is written (found in review: a user name with "@", a password with
    "?")."""

    def test_every_spelling_sqlalchemy_reads(self):
        from nova_bm.cli import usage
        for url, secret in (
                ('mysql+pymysql://nova@mydb:s3cret-A@db/nova_bm', 's3cret-A'),
                ('mysql+pymysql://nova:pa?ss-B@db/nova_bm', 'pa?ss-B'),
                ('postgresql://nova:p@ss-C@db/nova_bm?sslmode=require',
                 'p@ss-C'),
                ('mysql+pymysql://nova:plain-D@db/nova_bm?charset=utf8',
                 'plain-D')):
            shown = usage.mask_url(url)
            self.assertNotIn(secret, shown, url)
            self.assertIn('******', shown)
            self.assertIn(secret, usage.url_secrets(url))
