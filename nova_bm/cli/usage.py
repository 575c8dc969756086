"""Usage errors of ``nova-bm-manage``: one line on stderr, exit 2, no secret.

argparse, on a mistake, prints the whole usage text (dozens of lines for
``node create``) and echoes what was typed; cliff prints an unknown command
on stdout, typed arguments included. An operator who mistyped an option
beside ``--ipmi-password X`` would see the password on the terminal, in
scroll-back and in CI logs. Here every such message is one line on stderr,
with a pointer to ``--help``, and the value of every option that looks like
a password option (``--ipmi-password`` and its prefixes, but also
``--password``, ``--ipmi_pasword=…``, ``--bmc-pw``: anything an operator may
have typed for it) is replaced by ``******`` wherever it would appear.

Operators come from Ironic: a command or an option named as in ``baremetal``
(``node set``, ``--property cpus=8``, ``--driver-info ipmi_address=…``) or
mistyped (``--resource_class``) gets a "did you mean" naming nova-bm's.
"""

import difflib
import logging
import re
import shlex

from nova_bm.common import safe_text

# Options whose value is a secret, as nova-bm spells them and as operators
# may think they are spelled.
SECRET_OPTIONS = ('--ipmi-password', '--password')
# Their names, normalised (no dashes in front, "-" for "_", lower case).
_SECRET_NAMES = tuple(option.lstrip('-') for option in SECRET_OPTIONS)
# A word in an option's name that makes it a password option.
_SECRET_WORDS = ('pass', 'pw', 'pswd', 'secret')
# argparse takes any unambiguous prefix of an option ("--ipmi-passw"), so a
# prefix counts as well, from these lengths on.
_SHORTEST_PREFIX = {'ipmi-password': len('ipmi-p'), 'password': len('pas')}
# Typos: this many insertions, deletions, substitutions or transpositions.
_TYPOS = 2
# The one option with "password" in its name whose value is not a secret
# (a path), and its own prefixes from this one on.
_FILE_OPTION = 'ipmi-password-file'
_FILE_OPTION_PREFIX = len('ipmi-password-f')


def _normal(name):
    """``--IPMI_Password`` → ``ipmi-password``."""
    return name.lstrip('-').lower().replace('_', '-')


def _distance(a, b, limit=_TYPOS):
    """Edits (with transpositions) from ``a`` to ``b``; ``limit + 1`` when
    more than ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (ca != cb))
            if (previous2 is not None and i > 1 and j > 1
                    and ca == b[j - 2] and a[i - 2] == cb):
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


def _secret_name(name):
    """Whether ``name`` (an option or a KEY of KEY=VALUE) names a secret."""
    name = _normal(name)
    if not name:
        return False
    if (len(name) >= _FILE_OPTION_PREFIX
            and _FILE_OPTION.startswith(name)):
        return False
    if any(word in name for word in _SECRET_WORDS):
        return True
    for secret in _SECRET_NAMES:
        if len(name) >= _SHORTEST_PREFIX[secret] and secret.startswith(name):
            return True
        if _distance(name, secret) <= _TYPOS:
            return True
    return False


def _secret_word(token):
    """Whether ``token``, not an option, is a mistyped password option
    (``a-ipmi-password``, ``ipmi-password``): close to one, dashes and
    all."""
    token = token.lower().replace('_', '-')
    return any(_distance(token, option) <= _TYPOS
               for option in SECRET_OPTIONS)


def is_secret_option(token):
    """Whether ``token`` (as typed) looks like a password option."""
    if token.startswith('-'):
        return _secret_name(token)
    return _secret_word(token)


def _password_and_value(parts):
    """Whether ``OPTION=VALUE`` (split at each ``=``) is ``--ipmi-password``
    (or a prefix argparse takes for it) and its value, not a mistyped
    option with an ``=`` in its name (``--ipmi-pas=word``)."""
    option = parts[0]
    if not (option.startswith('--ipmi-p')
            and SECRET_OPTIONS[0].startswith(option)):
        return False
    name = _normal('='.join(parts[:2]))
    return all(_distance(name, secret, 1) > 1 for secret in _SECRET_NAMES)


# A word that is an option, not a value: "--cpus".
_OPTION = re.compile(r'^--?[A-Za-z][A-Za-z0-9_-]*$')


def secrets_in(argv):
    """The values given to anything resembling a password option in
    ``argv``: ``OPTION VALUE``, ``OPTION=VALUE``, and ``KEY=VALUE`` for a
    password-like KEY (``--driver-info ipmi_password=VALUE``); an ``=``
    typed within the option's name too (``--pas=word VALUE``)."""
    found = set()
    for index, token in enumerate(argv):
        if not isinstance(token, str):
            continue
        parts = token.split('=')
        keyed = False
        for at in range(1, len(parts)):
            key = '='.join(parts[:at])
            if is_secret_option(key) or _secret_name(
                    parts[at - 1].rsplit(',', 1)[-1]):
                value = '='.join(parts[at:])
                found.update((value, value.split(',', 1)[0],
                              value.lstrip('=')))
                keyed = True
                break
        if index + 1 >= len(argv):
            continue
        following = argv[index + 1]
        if keyed:
            # After a mistyped option and "=", the next word may be the
            # password too ("--pas=word VALUE"), unless it is an option.
            if not (_password_and_value(parts)
                    or _OPTION.match(following)):
                found.add(following)
        elif is_secret_option(token) or any(
                _secret_name(part) for part in parts[1:] if part):
            # "--ipmi-password VALUE", and "--ipmi=password VALUE" too.
            found.add(following)
    found.discard('')
    return found


def password_in_disguise(word, parser):
    """Whether ``word`` is a password option mistyped with an ``=`` in its
    name that argparse would take for an abbreviation of another option
    (``--pa=sword=VALUE``: ``--partition-key``, given ``sword=VALUE``)."""
    if not word.startswith('-') or '=' not in word:
        return False
    parts = word.split('=')
    if parts[0] in _known_options(parser) or is_secret_option(parts[0]):
        return False  # the option spelled out, or a password option
    return any(is_secret_option('='.join(parts[:at]))
               for at in range(2, len(parts) + 1))


def _spellings(secret):
    """``secret`` as it may appear in a message: as typed, and as repr()
    shows it (a backslash or a control character doubled or escaped)."""
    shown = {secret, repr(secret)[1:-1], safe_text.escape(secret)}
    return sorted((s for s in shown if s), key=len, reverse=True)


# What may stand before or after a secret in a message: a secret is masked
# where it is a word of its own, not inside a longer word.
_EDGE = r'\s\'"=,;:()\[\]{}<>@/'


def redact(text, secrets):
    """``text`` with each secret, where it stands as a word, masked."""
    spellings = sorted({s for secret in secrets for s in _spellings(secret)},
                       key=len, reverse=True)
    for secret in spellings:
        text = re.sub(r'(?<![^%s])%s(?![^%s])'
                      % (_EDGE, re.escape(secret), _EDGE),
                      safe_text.MASK, text)
    return text


# A URL's "scheme://user:" before a password, and a query parameter that
# names a password.
_URL_USER = re.compile(r'^[^:/?#]+://[^:/@?#]*:')
_QUERY_PASSWORD = re.compile(
    r'(?P<head>[?&][^=&#]*(?:pass|pw|secret)[^=&#]*=)(?P<secret>[^&#]*)',
    re.IGNORECASE)


def _url_password(url):
    """``(start, end)`` of the password in ``url``, or None.

    From after ``user:`` to the last ``@`` before the query: more than
    SQLAlchemy takes when the password holds a raw ``@``, never less.
    """
    match = _URL_USER.match(url)
    if not match:
        return None
    end = url.rfind('@', match.end(), len(url.split('?', 1)[0]))
    return (match.end(), end) if end >= 0 else None


def _parsed_password(url):
    """The password SQLAlchemy reads in ``url`` (which may hold ``@`` in
    its user name or ``?`` in its password), or None."""
    try:
        import sqlalchemy.engine
        return sqlalchemy.engine.make_url(url).password
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy parses
        return None


def url_secrets(url):
    """The passwords a database URL holds (for :func:`redact`)."""
    found = {m.group('secret') for m in _QUERY_PASSWORD.finditer(url)}
    span = _url_password(url)
    if span:
        found.add(url[span[0]:span[1]])
    parsed = _parsed_password(url)
    if parsed:
        found.add(str(parsed))
    found.discard('')
    return found


def mask_url(url):
    """A database URL as it may be shown: any password as ``******``.

    ``mysql+pymysql://nova:s3cret@db/nova_bm`` →
    ``mysql+pymysql://nova:******@db/nova_bm``; escaped, on one line.
    The password is the one SQLAlchemy reads (a user name may hold ``@``,
    a password ``?``); the text is masked wherever it stands.
    """
    secrets = url_secrets(url)
    span = _url_password(url)
    if span:
        url = url[:span[0]] + safe_text.MASK + url[span[1]:]
    for secret in sorted(secrets, key=len, reverse=True):
        url = url.replace(secret, safe_text.MASK)
    url = _QUERY_PASSWORD.sub(lambda m: m.group('head') + safe_text.MASK,
                              url)
    return safe_text.escape(url, limit=300)


def one_line(prog, message, secrets, hints=()):
    """The line a usage error prints:
    ``prog: message; hint (see "prog --help")``."""
    message = '; '.join(redact(part, secrets)
                        for part in [message] + list(hints))
    return safe_text.escape(redact('%s: %s (see "%s --help")' % (
        prog, message, prog), secrets))


def install(parser, app, hints=False):
    """Make ``parser`` report a usage error as one line and exit 2.

    ``app``: has ``stderr`` and ``secrets`` (read when the error happens).
    ``hints``: add "did you mean" for the options ``parser`` does not know
    (a command's parser; the application's takes any option on to the
    command).
    """
    parse_known_args = parser.parse_known_args
    parser.nova_bm_argv = []

    def remember_argv(args=None, namespace=None):
        parser.nova_bm_argv = list(args or ())
        if hints:
            for word in parser.nova_bm_argv:
                if word == '--':
                    break
                if password_in_disguise(word, parser):
                    parser.error('unrecognized arguments: %s' % word)
        return parse_known_args(args, namespace)

    def error(message):
        found = option_hints(parser.nova_bm_argv, parser,
                             app.secrets) if hints else []
        app.stderr.write(one_line(parser.prog, message, app.secrets,
                                  found) + '\n')
        parser.exit(2)
    parser.parse_known_args = remember_argv
    parser.error = error
    return parser


def command_words(argv, limit=3):
    """What the operator typed as a command name, escaped and cut short.

    Stops at the first option: what follows may be a password.
    """
    return safe_text.escape(' '.join(_words(argv, limit)), limit=80)


def _words(argv, limit=3):
    words = []
    for token in argv[:limit]:
        if token.startswith('-'):
            break
        words.append(token)
    return words


# --- "did you mean": commands ----------------------------------------------

#: Ironic's commands (``baremetal …``) that nova-bm has under another name:
#: the nova-bm command, and what to add to it.
IRONIC_COMMANDS = {
    'node set': ('node update', ''),
    'node unset': ('node update', ''),
    'node maintenance set': ('node update', ' NODE --maintenance'),
    'node maintenance unset': ('node update', ' NODE --no-maintenance'),
    'node add trait': ('node update', ' NODE --trait TRAIT'),
    'node remove trait': ('node update', ' NODE --remove-trait TRAIT'),
    'node reboot': ('node power reboot', ''),
    'node port list': ('interface list', ' NODE'),
    'create': ('node import', ' FILE'),
    'port create': ('interface add', ' NODE MAC'),
    'port set': ('interface update', ''),
    'port unset': ('interface update', ''),
    'port list': ('interface list', ''),
    'port show': ('interface list', ''),
    'port delete': ('interface delete', ''),
}
#: Ironic's commands that are Nova's here.
NOVA_COMMANDS = {
    'node deploy': 'nova-bm deploys through Nova: "openstack server create"',
    'node undeploy': 'nova-bm deploys through Nova: "openstack server '
                     'delete"',
    'node rebuild': 'nova-bm deploys through Nova: "openstack server '
                    'rebuild"',
}
# What Ironic's client is called: "nova-bm-manage baremetal node list".
_IRONIC_PREFIXES = ('openstack baremetal', 'baremetal')


def command_hint(argv, commands):
    """``(hint, command)``: a "did you mean" for the command ``argv`` names
    (or None), and the one command it suggests (or None).

    ``commands``: nova-bm-manage's command names. Only command words are
    read, never what follows the first option.
    """
    words = _words(argv, limit=5)
    typed = ' '.join(words)
    for prefix in _IRONIC_PREFIXES:
        if typed == prefix or typed.startswith(prefix + ' '):
            rest = words[len(prefix.split()):]
            rest_name = ' '.join(rest)
            for name in sorted(commands, key=len, reverse=True):
                if rest_name == name or rest_name.startswith(name + ' '):
                    return ('did you mean "%s" (without "%s")?'
                            % (name, prefix), name)
            hint, command = command_hint(rest, commands)
            return (hint or 'nova-bm-manage takes its commands without '
                    '"%s"' % prefix, command)
    for count in (3, 2, 1):
        name = ' '.join(words[:count])
        if len(words) < count:
            continue
        if name in NOVA_COMMANDS:
            return NOVA_COMMANDS[name], None
        command, more = IRONIC_COMMANDS.get(name, (None, ''))
        if command in commands:
            return 'did you mean "%s%s"?' % (command, more), command
    for count in (3, 2, 1):
        if len(words) < count:
            continue
        close = difflib.get_close_matches(' '.join(words[:count]),
                                          sorted(commands), n=2, cutoff=0.75)
        if close:
            return ('did you mean %s?' % ' or '.join('"%s"' % c
                                                     for c in close),
                    close[0] if len(close) == 1 else None)
    if words:
        group = sorted(c.split(' ', 1)[1] for c in commands
                       if c.startswith(words[0] + ' '))
        if group:
            return ('the %s commands are: %s' % (words[0], ', '.join(group)),
                    None)
    return None, None


# --- "did you mean": options -----------------------------------------------

# Ironic's node properties, driver_info keys and local_link_connection keys
# (normalised), as nova-bm options.
_PROPERTIES = {'cpus': '--cpus', 'memory-mb': '--memory-mb',
               'local-gb': '--local-gb', 'cpu-arch': '--cpu-arch'}
_DRIVER_INFO = {'ipmi-address': '--ipmi-address', 'ipmi-port': '--ipmi-port',
                'ipmi-username': '--ipmi-username',
                'ipmi-password': '--ipmi-password'}
_LINK = {'switch-id': '--switch-id', 'port-id': '--port-id',
         'switch-info': '--switch-info'}
# Ironic's options that nova-bm names otherwise (None: has no such thing).
_IRONIC_OPTIONS = {
    'maintenance-reason': '--reason',
    'conductor-group': '--partition-key',
    'pxe-enabled': '--pxe or --no-pxe',
    'is-pxe-enabled': '--pxe or --no-pxe',
    'address': '--ipmi-address',
    'username': '--ipmi-username',
    'port': '--ipmi-port',
    'chassis-uuid': None,
    'boot-interface': None,
    'network-interface': None,
    'rescue-interface': None,
    'extra': None,
    'description': None,
    'owner': None,
    'lessee': None,
}
_DRIVERS = ('driver', 'power-interface', 'management-interface')


def _value(argv, index, attached):
    """The value of the option at ``index``: ``attached`` (after ``=``) or
    the next word (None when there is none, or it is an option)."""
    if attached is not None:
        return attached
    if index + 1 < len(argv) and not argv[index + 1].startswith('-'):
        return argv[index + 1]
    return None


def _shown(value, limit=40):
    """A value as a shell word in a hint: quoted, escaped, cut short."""
    return shlex.quote(safe_text.escape(value, limit=limit))


#: Words that say a value may carry a secret.
_SECRET_WORD = re.compile(r'pass|pw|secret', re.IGNORECASE)


def _key_value_hint(typed, value, keys, secrets, known):
    """``--property cpus=8`` → ``"--property cpus=8" is "--cpus 8" here``."""
    ours = ', '.join(option for option in keys.values() if option in known)
    key, equals, item = (value or '').partition('=')
    option = keys.get(_normal(key))
    if not equals or option not in known:
        if not ours:
            return 'nova-bm has no %s here' % typed
        return '%s is %s here' % (typed, ours)
    if (item in secrets or _secret_name(key) or ',' in item
            or any(secret in item for secret in secrets)
            or _SECRET_WORD.search(item)):
        # A value that holds (or may hold) a secret is never shown, not
        # even cut short: a cut secret would escape redaction.
        shown_item = shown_pair = safe_text.MASK
    else:
        shown_item, shown_pair = _shown(item), safe_text.escape(item, 40)
    return '"%s %s=%s" is "%s %s" here' % (
        typed, safe_text.escape(key, 40), shown_pair, option, shown_item)


#: Ironic's boot mode capability: ``capabilities=boot_mode:uefi[,...]``.
_BOOT_MODE_CAPABILITY = re.compile(
    r'capabilities=(?:.*,)?boot_mode:(uefi|bios)(?:,|\Z)', re.IGNORECASE)


def _ironic_hint(typed, name, value, secrets, known):
    """A hint for Ironic's option ``name`` (normalised), or None."""
    if name in ('property', 'properties'):
        boot_mode = _BOOT_MODE_CAPABILITY.match(value or '')
        if boot_mode and '--boot-mode' in known:
            return '"%s capabilities=...boot_mode:%s..." is "--boot-mode ' \
                   '%s" here' % (typed, boot_mode.group(1).lower(),
                                 boot_mode.group(1).lower())
        return _key_value_hint(typed, value, _PROPERTIES, secrets, known)
    if name == 'driver-info':
        return _key_value_hint(typed, value, _DRIVER_INFO, secrets, known)
    if name == 'local-link-connection':
        return _key_value_hint(typed, value, _LINK, secrets, known)
    if name in _DRIVERS:
        return 'nova-bm drives every node over IPMI: leave out %s' % typed
    if name == 'provision-state':
        state = _normal(value or '')
        if state.startswith('manage'):
            command = '"node manage"'
        elif state in ('available', 'provide'):
            command = '"node provide"'
        else:
            command = '"node manage" and "node provide"'
        return ('provision states change with %s, not with %s'
                % (command, typed))
    if name in _IRONIC_OPTIONS:
        option = _IRONIC_OPTIONS[name]
        if option is None:
            return 'nova-bm has no %s' % typed
        if option.split()[0] in known:
            return 'did you mean %s?' % option
    return None


def _known_options(parser):
    """Every option string ``parser`` takes."""
    return [option for action in parser._actions
            for option in action.option_strings]


def _is_known(option, known, allow_abbrev):
    if option in known:
        return True
    return allow_abbrev and option.startswith('--') and any(
        k.startswith(option) for k in known)


def option_hints(argv, parser, secrets=()):
    """One "did you mean" per option in ``argv`` that ``parser`` does not
    take: Ironic's names (``--property cpus=8`` → ``--cpus 8``) and typos
    (``--resource_class`` → ``--resource-class``). Values of password-like
    options are never shown."""
    known = _known_options(parser)
    allow_abbrev = getattr(parser, 'allow_abbrev', True)
    by_name = {_normal(k): k for k in known if k.startswith('--')}
    hints = []
    for index, word in enumerate(argv):
        if word == '--':
            break
        if not word.startswith('-') or re.match(r'^-\d', word):
            continue
        option, equals, attached = word.partition('=')
        if _is_known(option, known, allow_abbrev):
            continue
        name = _normal(option)
        typed = safe_text.escape(option, limit=40)
        value = _value(argv, index, attached if equals else None)
        if name in by_name:  # --resource_class, --IPMI-ADDRESS
            hint = 'did you mean %s?' % by_name[name]
        else:
            hint = _ironic_hint(typed, name, value, secrets, known)
        if hint is None:
            close = difflib.get_close_matches(name, sorted(by_name), n=1,
                                              cutoff=0.75)
            if close:
                hint = 'did you mean %s?' % by_name[close[0]]
        if hint and hint not in hints:
            hints.append(hint)
    return hints


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
    """Mixin for a cliff command: its usage errors are one line, exit 2,
    with a "did you mean" for options it does not take."""

    def get_parser(self, prog_name):
        return install(super().get_parser(prog_name), self.app, hints=True)
