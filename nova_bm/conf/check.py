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
                problems.append('[%s] %s: %s' % (
                    section, name, ' '.join(str(e).split())))
                continue
            if isinstance(value, cfg.ConfigOpts.GroupAttr):
                continue  # a group seen from DEFAULT: checked by name
    return problems


def check_options(conf, groups):
    """Raise ConfigInvalid naming every bad option of ``groups``."""
    problems = invalid_options(conf, groups)
    if problems:
        raise exception.ConfigInvalid(reason='; '.join(problems))
