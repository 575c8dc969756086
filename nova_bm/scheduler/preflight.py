"""What nova-bm-scheduler checks before it schedules anything.

Nova's scheduler reports a filter it cannot import with a traceback that
quotes another traceback, and a scheduler option with a bad value only in
the first request that reads it. These checks turn both into one line per
problem, at start.
"""

import importlib
import inspect

from nova.scheduler import filters as nova_filters

from nova_bm.conf import check as conf_check
from nova_bm import exception

#: Option groups whose values the scheduler reads while scheduling.
SCHEDULER_GROUPS = ('scheduler', 'filter_scheduler')

#: Where nova-bm's exact filters live, for the hint in an error.
FILTERS_MODULE = 'nova_bm.scheduler.filters'


def _load(path):
    """The filter classes ``path`` names, or a one-line reason it cannot."""
    module_name, _, attr = path.rpartition('.')
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except ImportError as e:
        return None, 'cannot import %s: %s' % (path, e)
    except (AttributeError, ValueError):
        return None, '%s has no %s' % (module_name or path, attr)
    if inspect.isclass(obj) and issubclass(obj, nova_filters.BaseHostFilter):
        return [obj], None
    if inspect.isfunction(obj):
        return list(obj()), None
    return None, '%s is not a host filter' % path


def filter_problems(conf):
    """One line per available filter that cannot load or enabled one missing.
    """
    problems, names = [], set()
    for path in conf.filter_scheduler.available_filters:
        classes, problem = _load(path)
        if problem:
            problems.append('[filter_scheduler] available_filters: '
                            + problem)
        else:
            names.update(cls.__name__ for cls in classes)
    for name in conf.filter_scheduler.enabled_filters:
        if name in names:
            continue
        hint = ''
        if name.startswith('Exact'):
            hint = ' (add "available_filters = %s.%s")' % (
                FILTERS_MODULE, name)
        problems.append('[filter_scheduler] enabled_filters: no available '
                        'filter is named %s%s' % (name, hint))
    return problems


def check(conf):
    """Raise ConfigInvalid naming every problem found, or return."""
    problems = conf_check.invalid_options(conf, SCHEDULER_GROUPS)
    if not problems:  # the filter options themselves must be readable
        problems = filter_problems(conf)
    if problems:
        raise exception.ConfigInvalid(reason='; '.join(problems))
