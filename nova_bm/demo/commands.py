"""What ``nova-bm-demo --keep`` prints for the user to try, runnable as
printed.

The demo runs in tox's ``demo`` virtualenv (``.tox/demo``): its ``bin`` is
on the PATH of the demo's process but not of the user's shell, where a
bare ``nova-bm-manage`` is "command not found". So every command line
names the program by its absolute path when it comes from the demo's own
environment, names the configuration file the demo wrote (absolute), and
quotes each argument for a POSIX shell: it runs as printed, from any
directory, in a shell with no virtualenv active.

This module imports nothing of Nova: tests build and run the very lines
the demo prints without starting the cloud
(``tests/unit/test_demo_printed_commands.py``).
"""

import os
import shlex
import shutil
import sys

MANAGE = 'nova-bm-manage'
CONFIG = 'nova-bm.conf'
# The file ipmitool -f reads the BMC password from.
BMC_LOGIN_FILE = 'bmc-password'
INDENT = '  '


def bin_dir():
    """The ``bin`` directory of the environment this Python runs in."""
    return os.path.dirname(os.path.abspath(sys.executable))


def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def manage_argv():
    """``nova-bm-manage`` as a user's shell can run it: the copy installed
    next to this Python (the demo's virtualenv), by absolute path; else
    the one on PATH, by absolute path; else this Python running its
    module."""
    own = os.path.join(bin_dir(), MANAGE)
    if _executable(own):
        return [own]
    found = shutil.which(MANAGE)
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), '-m', 'nova_bm.cmd.manage']


def tool(name):
    """A system tool as the user types it, or None when not installed.

    Its bare name when it is on PATH outside the demo's environment (tox
    puts that environment's ``bin`` first on the demo's PATH, not on the
    user's), its absolute path when only that environment has it.
    """
    found = shutil.which(name)
    if found is None:
        return None
    found = os.path.abspath(found)
    if os.path.dirname(found) == bin_dir():
        return found
    return name


def write_files(directory, host, connection, password):
    """Write the configuration ``nova-bm-manage`` needs to read the demo's
    node database, and the BMC password file for ipmitool (mode 0600).

    :returns: (configuration path, password file path), absolute.
    """
    directory = os.path.abspath(directory)
    conf = os.path.join(directory, CONFIG)
    with open(conf, 'w') as f:
        f.write('[DEFAULT]\nhost = %s\n[baremetal_database]\n'
                'connection = %s\n' % (host, connection))
    secret = os.path.join(directory, BMC_LOGIN_FILE)
    with open(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
              'w') as f:
        f.write(password)
    return conf, secret


def commands(conf, node, bmc_port, username, password_file,
             serial_log=None):
    """The command lines to print, each ready for a POSIX shell.

    ``nova-bm-manage`` lists the nodes and shows ``node`` from the demo's
    node database; ipmitool (when installed) asks the BMC on ``bmc_port``
    for its power state; ``tail -f`` follows the machine's serial console
    (``serial_log``, with machines).
    """
    manage = manage_argv() + ['--config-file', conf]
    argvs = [manage + ['node', 'list'], manage + ['node', 'show', node]]
    ipmitool = tool('ipmitool')
    if ipmitool:
        argvs.append([ipmitool, '-I', 'lanplus', '-H', '127.0.0.1',
                      '-p', str(bmc_port), '-U', username,
                      '-f', password_file, 'power', 'status'])
    if serial_log:
        argvs.append([tool('tail') or 'tail', '-f', serial_log])
    return [shlex.join(argv) for argv in argvs]


def message(lines):
    """What the demo prints: a line of text, then each command indented
    by two spaces (and nothing else is), then a blank line."""
    text = ['', 'The cloud keeps running until Ctrl-C. In another shell, '
                'from any directory:']
    text += [INDENT + line for line in lines]
    if tool('ipmitool') is None:
        text.append('(Install ipmitool, Debian\'s package of that name, to '
                    'ask the BMCs yourself.)')
    text.append('')
    return '\n'.join(text)


def command_lines(printed):
    """The command lines in ``printed`` (the text of :func:`message`)."""
    return [line[len(INDENT):] for line in printed.splitlines()
            if line.startswith(INDENT)]
