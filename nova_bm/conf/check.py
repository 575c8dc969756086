"""Start-up checks: a bad value is one clear line at start, not later.

oslo.config converts a value only when the option is first read, so an
invalid ``[baremetal] power_sync_interval = soon`` would otherwise surface
as a traceback in the first periodic task, and a bad scheduler option in
the first boot request. The services of this plugin read every option of
the groups they use once, at start, and refuse to start with one line per
bad value.
"""

from oslo_config import cfg

from nova_bm import exception
from nova_bm.common import safe_text

#: The groups the virt driver reads.
DRIVER_GROUPS = ('baremetal', 'baremetal_database')


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
