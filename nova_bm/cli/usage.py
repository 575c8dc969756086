"""Usage errors of ``nova-bm-manage``: one line on stderr, exit 2, no secret.

argparse, on a mistake, prints the whole usage text (dozens of lines for
``node create``) and echoes what was typed; cliff prints an unknown command
on stdout, typed arguments included. An operator who mistyped an option
beside ``--ipmi-password X`` would see the password on the terminal, in
scroll-back and in CI logs. Here every such message is one line on stderr,
with a pointer to ``--help``, and the value of every password option typed
is replaced by ``******`` wherever it would appear.
"""

import logging
import re

from nova_bm.common import safe_text

# Options whose value is a secret. argparse also takes any unambiguous
# prefix of an option ("--ipmi-passw"), so a prefix counts as well.
SECRET_OPTIONS = ('--ipmi-password',)
_SHORTEST_PREFIX = len('--ipmi-p')


def _is_secret_option(token):
    return any(len(token) >= _SHORTEST_PREFIX and option.startswith(token)
               for option in SECRET_OPTIONS)


def secrets_in(argv):
    """The values given to secret options in ``argv``."""
    found = set()
    for index, token in enumerate(argv):
        option, equals, value = token.partition('=')
        if not _is_secret_option(option):
            continue
        if equals:
            found.add(value)
        elif index + 1 < len(argv):
            found.add(argv[index + 1])
    found.discard('')
    return found


def redact(text, secrets):
    """``text`` with each secret, where it stands as a word, masked."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = re.sub(r'(?<![^\s\'"=,\[])%s(?![^\s\'"=,\]])'
                      % re.escape(secret), safe_text.MASK, text)
    return text


def one_line(prog, message, secrets):
    """The line a usage error prints: ``prog: message (see "prog --help")``.
    """
    return safe_text.escape(redact('%s: %s (see "%s --help")' % (
        prog, message, prog), secrets))


def install(parser, app):
    """Make ``parser`` report a usage error as one line and exit 2.

    ``app``: has ``stderr`` and ``secrets`` (read when the error happens).
    """
    def error(message):
        app.stderr.write(one_line(parser.prog, message, app.secrets) + '\n')
        parser.exit(2)
    parser.error = error
    return parser


def command_words(argv, limit=3):
    """What the operator typed as a command name, escaped and cut short.

    Stops at the first option: what follows may be a password.
    """
    words = []
    for token in argv[:limit]:
        if token.startswith('-'):
            break
        words.append(token)
    return safe_text.escape(' '.join(words), limit=80)


class RedactingFilter(logging.Filter):
    """Masks the secrets typed on the command line in every log record."""

    def __init__(self, secrets):
        super().__init__()
        self._secrets = secrets

    def filter(self, record):
        if self._secrets:
            message = record.getMessage()
            redacted = redact(message, self._secrets)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True


class _NoTracebacks(logging.Filter):
    """Logs a record without the traceback it carries (unless --debug)."""

    def filter(self, record):
        record.exc_info = record.exc_text = record.stack_info = None
        return True


NO_TRACEBACKS = _NoTracebacks()


class OneLineUsageErrors:
    """Mixin for a cliff command: its usage errors are one line, exit 2."""

    def get_parser(self, prog_name):
        return install(super().get_parser(prog_name), self.app)
