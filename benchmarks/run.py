"""Run every benchmark and end with one table: work, nova-bm, reference,
ratio, goal. ``tox -e bench`` runs this; ``tox -e bench -- enrol`` runs one.

Each benchmark module has ``run()`` returning rows with the keys ``work``,
``nova_bm``, ``reference``, ``ratio``, ``goal`` and ``met``; the reference
is always measured in the same run, never a figure remembered from before.
"""

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

BENCHMARKS = ('enrol', 'power_sweep', 'power_faults', 'resource_cycle',
              'scheduler', 'ownership', 'deploy', 'image_serving',
              'consoles', 'deploy_http_abuse', 'cleaning', 'inspection')


def _ratio(ratio):
    return ('%.2fx' if ratio >= 0.1 else '%.2gx') % ratio


def _table(rows):
    headers = ('work', 'nova-bm', 'reference', 'ratio', 'goal', 'met')
    cells = [(r['work'], r['nova_bm'], r['reference'], _ratio(r['ratio']),
              r['goal'], 'yes' if r['met'] else 'NO') for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells))
              for i, h in enumerate(headers)]
    line = '+-' + '-+-'.join('-' * w for w in widths) + '-+'

    def row(values):
        padded = (v.ljust(w) for v, w in zip(values, widths, strict=True))
        return '| ' + ' | '.join(padded) + ' |'

    out = [line, row(headers), line] + [row(cell) for cell in cells]
    out.append(line)
    return '\n'.join(out)


def main(names):
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.stderr.write('run.py: no benchmark named %s (there are: %s)\n'
                         % (', '.join(unknown), ', '.join(BENCHMARKS)))
        return 2
    rows = []
    for name in names or BENCHMARKS:
        module = importlib.import_module('benchmarks.%s' % name)
        rows.extend(module.run())
    print()
    print(_table(rows))
    return 0 if all(r['met'] for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
