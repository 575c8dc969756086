"""Running a benchmark case in Nova's functional harness, in a process of
its own.

Nova's harness applies its concurrency mode (eventlet by default, native
with ``OS_NOVA_DISABLE_EVENTLET_PATCHING=1``) when it is imported, before
anything else may start a thread, so each case module runs as
``python -m benchmarks.<case> ARGS…`` and prints its figures as JSON on
its last line of output. This module must not import Nova itself.
"""

import json
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(case_module, *args, env=None):
    """Run ``benchmarks.<case_module> args`` (with ``env`` added to the
    environment); return its JSON result."""
    result = subprocess.run(
        [sys.executable, '-m', 'benchmarks.%s' % case_module]
        + [str(a) for a in args],
        cwd=ROOT, capture_output=True, text=True, timeout=3600,
        env=dict(os.environ, PYTHONPATH=ROOT, **(env or {})))
    if result.returncode:
        raise AssertionError('benchmark %s failed:\n%s'
                             % (case_module, result.stderr[-4000:]))
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_case(case, result_dict):
    """Run one harness test case; print its result as JSON; exit status."""
    outcome = unittest.TestResult()
    case.run(outcome)
    problems = outcome.errors + outcome.failures
    if problems:
        sys.stderr.write(problems[0][1])
        return 1
    print(json.dumps(result_dict))
    return 0
