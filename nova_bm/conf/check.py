"""Start-up checks: a bad value is one clear line at start, not later.

oslo.config converts a value only when the option is first read, so an
invalid ``[baremetal] power_sync_interval = soon`` would otherwise surface
as a traceback in the first periodic task, and a bad scheduler option in
the first boot request. The services of this plugin read every option of
the groups they use once, at start, and refuse to start with one line per
bad value.
"""

import os
import site
import sysconfig

from oslo_config import cfg
import sqlalchemy as sa

from nova_bm import exception
from nova_bm.common import safe_text

#: The groups the virt driver reads.
DRIVER_GROUPS = ('baremetal', 'baremetal_database')
#: The groups nova-bm-manage reads: the driver's, the default group
#: (``host``, ``state_path``, ``transport_url``) and the message bus's (it
#: tells the proxies and notifies).
MANAGE_GROUPS = ('DEFAULT',) + DRIVER_GROUPS + (
    'oslo_messaging_notifications', 'oslo_messaging_rabbit')


def invalid_options(conf, groups):
    """One line per option of ``groups`` whose configured value is unusable.

    ``groups``: group names; ``None`` or ``'DEFAULT'`` is the default group.
    """
    problems = []
    for group in groups:
        if group in (None, 'DEFAULT'):
            section, values = 'DEFAULT', conf
        else:
            section, values = group, conf[group]
        for name in values:
            try:
                value = getattr(values, name)
            except (cfg.Error, ValueError) as e:
                problems.append(_problem(conf, section, name, e))
                continue
            if isinstance(value, cfg.ConfigOpts.GroupAttr):
                continue  # a group seen from DEFAULT: checked by name
    return problems


def _problem(conf, section, name, error):
    """``[group] name = 'value' in /etc/nova/nova.conf: reason``.

    oslo.config's own message names its internals (``LocationInfo(…)``)
    and repeats itself; an operator needs the option, the value as written,
    the file, and why the value does not do.
    """
    # oslo.config raises ConfigFileValueError "from" the converter's own
    # ValueError, whose text is the reason ("Should be greater than …").
    cause = error.__context__ if isinstance(
        error, cfg.ConfigFileValueError) and error.__context__ else error
    reason = ' '.join(str(cause).split())
    group = None if section == 'DEFAULT' else section
    where = ''
    try:
        # Private, but stable since 2013; only adds detail when it works.
        values, location = conf._namespace._get_file_value(
            [(group or 'DEFAULT', name)])
        secret = conf._get_opt_info(name, group)['opt'].secret
    except Exception:  # noqa: S110 (the reason alone is still useful)
        pass
    else:
        value = safe_text.MASK if secret else safe_text.quote(values[-1])
        where = ' = %s' % value
        if getattr(location, 'detail', None):
            where += ' in %s' % location.detail
    return safe_text.escape('[%s] %s%s: %s' % (section, name, where,
                                                 reason))


def check_options(conf, groups):
    """Raise ConfigInvalid naming every bad option of ``groups``."""
    problems = invalid_options(conf, groups)
    if problems:
        raise exception.ConfigInvalid(reason='; '.join(problems))


def _python_directories(conf):
    """Where Python packages are installed: never where a database goes."""
    found = set()
    paths = sysconfig.get_paths()
    candidates = [paths.get('purelib'), paths.get('platlib'),
                  paths.get('stdlib')]
    try:
        candidates += site.getsitepackages() + [site.getusersitepackages()]
    except AttributeError:  # an old virtualenv's site module
        pass
    try:
        # Nova's own $pybasedir: the default of [DEFAULT] state_path.
        candidates.append(conf.pybasedir)
    except (cfg.Error, AttributeError):
        pass
    for path in candidates:
        if path:
            found.add(os.path.realpath(path))
    return found


def sqlite_inside_python(url, conf):
    """The SQLite file ``url`` names when it is inside the Python
    installation (``site-packages``), else None.

    Nova's ``[DEFAULT] state_path`` defaults to the directory Nova is
    installed in, so a nova.conf that sets neither ``state_path`` nor
    ``[baremetal_database] connection`` puts the node database beside the
    packages: a file that the next upgrade or a second host never sees.
    """
    try:
        parsed = sa.engine.make_url(url)
    except Exception:  # noqa: S110 (check_connection_url reports it)
        return None
    if parsed.get_backend_name() != 'sqlite' or not parsed.database or (
            parsed.database == ':memory:'
            or parsed.database.startswith('file:')):
        return None
    path = os.path.realpath(parsed.database)
    parts = path.split(os.sep)
    if 'site-packages' in parts or 'dist-packages' in parts:
        return path
    for directory in _python_directories(conf):
        if path == directory or path.startswith(directory.rstrip(os.sep)
                                                + os.sep):
            return path
    return None


def _default(conf, name, group=None):
    """Whether option ``name`` has its default value (is set nowhere)."""
    try:
        location = conf.get_location(name, group)
    except (cfg.Error, ValueError):
        return False
    return location is not None and location.location in (
        cfg.Locations.opt_default, cfg.Locations.set_default)


def check_node_database_location(conf, shown_url):
    """Refuse a node database inside the Python installation.

    ``shown_url``: the connection URL as it may be shown (password masked).

    :raises: ConfigInvalid.
    """
    if sqlite_inside_python(conf.baremetal_database.connection,
                            conf) is None:
        return
    if not _default(conf, 'connection', 'baremetal_database'):
        why = 'as [baremetal_database] connection says'
    elif _default(conf, 'state_path'):
        why = ("[DEFAULT] state_path is not set: Nova's default is where "
               "Nova is installed")
    else:
        why = '[DEFAULT] state_path is %s' % safe_text.quote(
            conf.state_path)
    files = ', '.join(safe_text.escape(f)
                      for f in conf.default_config_files or ())
    raise exception.ConfigInvalid(
        reason='the node database would be %s, inside the Python '
               'installation (%s): set [DEFAULT] state_path (for example '
               '/var/lib/nova) or [baremetal_database] connection in %s'
               % (shown_url, why, files or 'nova.conf'))
