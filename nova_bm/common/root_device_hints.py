"""Ironic's root device hints: which disk of a machine gets the image.

An operator who enrols a node may say which of its disks the image is
written to ("the SSD of at least 400 GiB", "serial S45PNA0M123456", "the
disk on pci-0000:00:1f.2-ata-1"); the deploy ramdisk reports each disk's
facts (:mod:`nova_bm.deploy.disk_facts`) and the proxy picks the disk.
Operators come from Ironic and bring their node files, so the hints are
Ironic's: the same names, operators, defaults and comparisons. This module
is both halves: the grammar, checked at enrolment (:func:`parse`), and the
matcher, run against a ramdisk's report (:func:`match`, :func:`choose`).
It is pure Python (no oslo.utils, no ironic-lib): the semantics are copied,
not the dependency.

What a caller may rely on:

* :func:`parse` returns a new dict (JSON-serialisable, keys from
  :data:`NAMES` in that order) or raises :class:`HintError`, whose text is
  one line naming the hint, with any value quoted and cut short
  (:func:`nova_bm.common.safe_text.quote`). ``parse(parse(h)) ==
  parse(h)``: what is stored parses again to itself. Each value of a
  string hint is at most :data:`MAX_VALUE` characters, a whole expression
  at most :data:`MAX_EXPRESSION`, and every value is printable.
* :func:`match` and :func:`choose` take hints as given or as stored (they
  parse them again, so they raise :class:`HintError` only for hints that
  :func:`parse` refuses) and never raise because of the disks: a disk fact
  of the wrong type, too long, empty or missing matches no hint on it, and
  an entry that is not a dict matches nothing. Only the first
  :data:`MAX_DISKS` entries are looked at, and the work per disk is
  bounded by :data:`MAX_FACT_LENGTH`, so a hostile report costs little.
* :func:`describe` never raises and returns one printable line.

The semantics, from ironic-lib ``ironic_lib/utils.py``
(``parse_root_device_hints``, ``_extract_hint_operator_and_values``,
``_normalize_hint_expression``, ``_append_operator_to_hints``,
``find_devices_by_hints``, ``match_root_device_hints``; the same code is
now ``ironic/common/utils.py`` and ``ironic_python_agent/device_hints.py``),
oslo.utils ``oslo_utils/specs_matcher.py`` and ``strutils.bool_from_string``,
Ironic's ``doc/source/install/include/root-device-hints.inc``, and
ironic-python-agent's ``utils.guess_root_disk``:

* The eleven hint names; an unknown one is refused with the list of known
  ones. ``size`` is an int, ``rotational`` a bool, the others strings
  (given as anything but a string they are refused, as Ironic does: a
  YAML serial of digits must be quoted).
* A string hint is stripped and lower-cased, and so is the disk's fact it
  is compared with: string comparisons are case-insensitive and ignore
  leading and trailing blanks. (Ironic does this in
  ``_extract_hint_operator_and_values``: ``str(x).strip().lower()``, on
  the hint and, through ``_normalize_hint_expression``, on the disk's
  value.) Without an operator a string hint means ``s==``, ``size`` means
  ``==``.
* The operators are oslo.utils' ``specs_matcher``'s: ``s== s!= s>= s> s<=
  s<`` compare the disk's fact with the value (``fact < value`` for
  ``s<``), ``<in>`` is "the value is a substring of the fact", ``<or>``
  "the fact equals one of the values" (``<or> a <or> b``); for ``size``
  ``== != >= > <= <`` compare numbers, ``=`` is ``>=`` (oslo's legacy
  meaning), and ``<range-in> ( 10 100 ]`` tests a range whose brackets say
  whether the bounds are in it (newer Ironic, and its doc).
* ``size`` is a whole number of GiB greater than 0, compared with the
  disk's size in GiB; ``rotational`` is read by ``bool_from_string``
  (strict: ``1 t true on y yes`` / ``0 f false off n no``, any case), on
  the hint and on the disk's fact alike.
* A disk matches when it satisfies every hint; :func:`choose` with hints
  takes the first matching disk in the order reported; without hints it
  takes the smallest disk of at least :data:`MIN_GUESS_BYTES` (or the
  caller's ``min_bytes``), ties broken by name (IPA's ``guess_root_disk``
  sorts by ``(size, name)``); ``min_bytes`` plays no part with hints.

Where this differs from Ironic, on purpose:

* The disk's size in GiB is ``bytes // 1024**3``. Ironic (Python 3)
  divides, ``bytes / units.Gi``, a float: there ``size: 447`` never
  matches a 447.13 GiB disk, here it does, as with Ironic's ansible deploy
  interface (``root_hints.py``: ``// GIB``). ``>=`` and ``<`` agree with
  Ironic for every disk; ``== != > <=`` differ only for disks whose size
  is not a whole number of GiB.
* Hints Ironic accepts but could only crash on or never match when a disk
  is looked for are refused when the node is enrolled: a numeric operator
  on a string hint (Ironic calls ``float()`` on the model), a string
  operator or ``<or>`` on ``size`` (it compares a float with a string),
  ``<all-in>`` (it reads the disk's fact as a Python list literal; no
  disk fact is one), an operator without a value, an ``<or>`` with an empty
  alternative, a malformed ``<range-in>``, a value with control
  characters, more than one value after a one-value operator (Ironic
  silently used the first: here ``s== a s== b`` is the one value ``a s==
  b``).
* Ironic URL-quotes every value (``foo bar`` is stored as ``s==
  foo%20bar``) and compares the quoted texts; here values are stored and
  compared as they are (lower-cased). Equality, ``s!=`` and ``<or>`` come
  out the same; ``<in>`` no longer matches inside an escape (in Ironic
  ``<in> 20`` matched every value holding a space, quoted ``%20``), and
  ``s<`` and the like order the characters themselves, not their escapes.
* ``name`` and ``by_path`` given as a relative path get ``/dev/`` and
  ``/dev/disk/by-path/`` in front (``sda`` is ``/dev/sda``), except after
  ``<in>``, a substring. Ironic does not: there ``name: sda`` matches no
  disk.
* ``size: = 100`` is stored as ``>= 100``, what it means; a size
  expression is stored spaced and without a ``+`` (``>=100`` is
  ``>= 100``); Ironic keeps the text as given.
* A disk's string fact must be a string (Ironic took ``str()`` of
  anything: a serial of ``None`` was ``'none'``); newer IPA's lists of
  serials or WWNs, and its ``tran`` hint, are not supported.
"""

import operator
import re

from nova_bm.common import safe_text

NAMES = ('size', 'model', 'vendor', 'serial', 'wwn', 'wwn_with_extension',
         'wwn_vendor_extension', 'rotational', 'hctl', 'by_path', 'name')
#: Without hints, the smallest disk of at least this many bytes is chosen.
MIN_GUESS_BYTES = 4 * 1024 ** 3
#: Longest value of a string hint (each ``<or>`` alternative apart), as
#: stored: lower-cased, with its ``/dev/`` prefix.
MAX_VALUE = 255
#: Longest hint expression, operators and values, as given and as stored.
MAX_EXPRESSION = 1024
#: Most digits of a number of GiB (``size``).
MAX_DIGITS = 20
#: A disk's string fact longer than this matches no hint.
MAX_FACT_LENGTH = 1024
#: Only the first disks of a report are looked at.
MAX_DISKS = 1024
#: A disk's size in bytes beyond this (or below 0) matches no hint.
MAX_DISK_BYTES = 2 ** 64

_GIB = 1024 ** 3
# How a relative name or by_path is made absolute.
_PREFIXES = {'name': '/dev/', 'by_path': '/dev/disk/by-path/'}
# oslo.utils strutils.TRUE_STRINGS / FALSE_STRINGS.
_TRUE = ('1', 't', 'true', 'on', 'y', 'yes')
_FALSE = ('0', 'f', 'false', 'off', 'n', 'no')

# oslo.utils specs_matcher.op_methods: the fact is the left operand.
_STRING_OPS = {
    's==': operator.eq, 's!=': operator.ne, 's>=': operator.ge,
    's>': operator.gt, 's<=': operator.le, 's<': operator.lt,
    '<in>': lambda fact, value: value in fact,
}
_NUMBER_OPS = {
    '==': operator.eq, '!=': operator.ne, '>=': operator.ge,
    '>': operator.gt, '<=': operator.le, '<': operator.lt,
}
_OR = '<or>'
_RANGE = '<range-in>'
# Every operator of specs_matcher's grammar, longest first: an expression
# starting with one of them is an operator and its value(s).
_OPERATORS = sorted(set(_STRING_OPS) | set(_NUMBER_OPS)
                    | {'=', _OR, '<all-in>', _RANGE}, key=len, reverse=True)
_STRING_OP_NAMES = ' '.join(list(_STRING_OPS) + [_OR])
_NUMBER_OP_NAMES = ' '.join(list(_NUMBER_OPS) + [_RANGE])

_DIGITS_RE = re.compile(r'[0-9]{1,%d}\Z' % MAX_DIGITS)
_RANGE_RE = re.compile(r'([\[(])\s*([0-9]{1,%d})\s+([0-9]{1,%d})\s*([\])])\Z'
                       % (MAX_DIGITS, MAX_DIGITS))


class HintError(ValueError):
    """One line saying what is wrong with the hints (shown to operators as
    is)."""


def _error(name, reason, value):
    return HintError('root device hint %s %s, got %s'
                     % (name, reason, safe_text.quote(value)))


def _split(text):
    """``(operator, rest)`` of a stripped expression; ``('', text)``
    when it does not start with an operator."""
    for op in _OPERATORS:
        if text.startswith(op):
            return op, text[len(op):].strip()
    return '', text


# -- The grammar ------------------------------------------------------------

def _string_values(name, op, rest, value):
    """The value(s) after a string hint's operator, checked."""
    if op == _OR:
        values = [alternative.strip() for alternative in rest.split(_OR)]
        if not all(values):
            raise _error(name, "has an empty alternative after '<or>'",
                         value)
        return values
    if op == '<all-in>':
        raise _error(name, "cannot use '<all-in>' (it compares lists and "
                     "no disk fact is one; use '<in>' or '<or>')", value)
    if op not in _STRING_OPS:
        raise _error(name, "is a string: its operators are %s, not %r"
                     % (_STRING_OP_NAMES, op), value)
    return [rest]


def _absolute(name, op, value):
    """``sda`` as ``/dev/sda`` for the ``name`` hint (``by_path`` alike)."""
    prefix = _PREFIXES.get(name)
    if prefix is None or op == '<in>' or value.startswith('/'):
        return value
    return prefix + value


def _parse_string(name, value):
    """A string hint: ``[op] value`` or ``<or> a <or> b``, normalised."""
    if not isinstance(value, str):
        raise _error(name, 'must be a string (quote it)', value)
    if len(value) > MAX_EXPRESSION:
        raise _error(name, 'is longer than %d characters' % MAX_EXPRESSION,
                     value)
    if not value.isprintable():
        raise _error(name, 'holds control characters', value)
    text = value.strip().lower()
    if not text:
        raise _error(name, 'is empty', value)
    op, rest = _split(text)
    if not op:
        op, rest = 's==', text
    elif not rest:
        raise _error(name, 'has an operator but no value', value)
    values = [_absolute(name, op, v)
              for v in _string_values(name, op, rest, value)]
    if max(map(len, values)) > MAX_VALUE:
        raise _error(name, 'has a value longer than %d characters%s'
                     % (MAX_VALUE, ' with its %s' % _PREFIXES[name]
                        if name in _PREFIXES else ''), value)
    normal = ' '.join('%s %s' % (op, v) for v in values)
    if len(normal) > MAX_EXPRESSION:
        raise _error(name, 'is longer than %d characters once spaced out'
                     % MAX_EXPRESSION, value)
    return normal


_SIZE_REASON = ('must be a whole number of GiB greater than 0 (at most %d '
                'digits), alone or after an operator, as in ">= 100"'
                % MAX_DIGITS)


def _gib_count(name, text, value):
    """A positive whole number of GiB, from its ASCII digits."""
    if not _DIGITS_RE.match(text) or int(text) < 1:
        raise _error(name, _SIZE_REASON, value)
    return int(text)


def _parse_range(name, rest, value):
    """``( 10 100 ]`` after ``<range-in>``: brackets and bounds, in GiB."""
    found = _RANGE_RE.match(rest)
    if not found:
        raise _error(name, "needs two bounds in brackets after '<range-in>'"
                     ", as in '<range-in> ( 10 100 ]'", value)
    low, high = int(found.group(2)), int(found.group(3))
    if low > high:
        raise _error(name, 'has a range whose lower bound is above its '
                     'upper one', value)
    return '%s %s %d %d %s' % (_RANGE, found.group(1), low, high,
                               found.group(4))


def _parse_size(name, value):
    """``size``: GiB, ``100`` or ``'>= 100'``; stored as ``'== 100'``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _error(name, _SIZE_REASON, value)
    if isinstance(value, int):
        # Bounded before str(), which refuses ints of over 4,300 digits.
        text = str(value) if 0 < value < 10 ** MAX_DIGITS else ''
        return '== %d' % _gib_count(name, text, value)
    if len(value) > MAX_EXPRESSION:
        raise _error(name, 'is longer than %d characters' % MAX_EXPRESSION,
                     value)
    text = value.strip().lower()
    op, rest = _split(text)
    if op == _RANGE:
        return _parse_range(name, rest, value)
    if op == '=':
        op = '>='  # oslo.utils' legacy "=": "greater than or equal"
    elif not op:
        op, rest = '==', text
    elif op not in _NUMBER_OPS:
        raise _error(name, 'is a number: its operators are %s, not %r'
                     % (_NUMBER_OP_NAMES, op), value)
    return '%s %d' % (op, _gib_count(name, rest, value))


def _parse_bool(name, value):
    """``rotational``: a bool, or one of strutils' spellings of one."""
    if isinstance(value, (bool, int, str)):
        boolean = _boolean(value)
        if boolean is not None:
            return boolean
    raise _error(name, 'must be true or false (or one of %s)'
                 % ' '.join(_TRUE + _FALSE), value)


def _parse_one(name, value):
    if name == 'size':
        return _parse_size(name, value)
    if name == 'rotational':
        return _parse_bool(name, value)
    return _parse_string(name, value)


def parse(hints):
    """Validate and normalize a hints mapping (from JSON/YAML: values str,
    int or bool).

    Unknown names are refused listing the known ones; a string value is
    at most :data:`MAX_VALUE` characters (each ``<or>`` alternative apart,
    prefix included); ``size`` is an int of GiB or an
    expression (``'>= 100'``), ``rotational`` a bool or a spelling of one
    (``'true'``, ``'no'``...); ``name`` and ``by_path`` given without
    their ``/dev/`` or ``/dev/disk/by-path/`` get it. A string hint
    without an operator is stored with ``s==``, ``size`` with ``==``.
    None or an empty mapping means no hints.

    :returns: the normalised dict to store, e.g. ``{'size': '>= 100',
        'serial': 's== abc', 'rotational': False}``; ``{}`` for no hints.
    :raises: HintError
    """
    if hints is None:
        return {}
    if not isinstance(hints, dict):
        raise HintError('root device hints must be a mapping, got %s'
                        % safe_text.quote(hints))
    if len(hints) > len(NAMES):
        raise HintError('root device hints are at most %d, got %d'
                        % (len(NAMES), len(hints)))
    unknown = sorted(safe_text.quote(key) for key in hints
                     if key not in NAMES)
    if unknown:
        raise HintError('unknown root device hint %s; the hints are %s'
                        % (', '.join(unknown), ', '.join(NAMES)))
    return {name: _parse_one(name, hints[name])
            for name in NAMES if name in hints}


def _render(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return value


def describe(hints):
    """One line for messages, e.g. ``'serial s== abc, size >= 100'``
    (hints sorted by name, values as stored: lower-case)."""
    try:
        parsed = parse(hints)
    except HintError:
        return 'invalid hints %s' % safe_text.quote(hints)
    if not parsed:
        return 'no hints'
    return safe_text.escape(', '.join(
        '%s %s' % (name, _render(parsed[name])) for name in sorted(parsed)))


# -- The matcher ------------------------------------------------------------

def _boolean(value):
    """strutils.bool_from_string(value, strict=True), None for an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):  # str() is '1' or '0' for these only
        return bool(value) if value in (0, 1) else None
    if not isinstance(value, str) or len(value) > 16:
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _text_fact(value):
    """A disk's string fact as hints compare it, None if unusable."""
    if not isinstance(value, str) or len(value) > MAX_FACT_LENGTH:
        return None
    return value.strip().lower() or None


def _gib_fact(value):
    """A disk's size in whole GiB (rounded down), None if unusable."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not 0 <= value <= MAX_DISK_BYTES:
        return None
    return value // _GIB


def _string_test(expression):
    """fact -> bool for a stored string hint."""
    op, rest = _split(expression)
    if op == _OR:
        values = frozenset(value.strip() for value in rest.split(_OR))
        return lambda fact: fact in values
    compare = _STRING_OPS[op]
    return lambda fact: compare(fact, rest)


def _range_test(rest):
    found = _RANGE_RE.match(rest)
    low, high = int(found.group(2)), int(found.group(3))
    above = operator.ge if found.group(1) == '[' else operator.gt
    below = operator.le if found.group(4) == ']' else operator.lt
    return lambda gib: above(gib, low) and below(gib, high)


def _size_test(expression):
    """GiB -> bool for a stored size hint."""
    op, rest = _split(expression)
    if op == _RANGE:
        return _range_test(rest)
    compare, number = _NUMBER_OPS[op], int(rest)
    return lambda gib: compare(gib, number)


def _test(name, expression):
    """disk -> bool for one stored hint; an unusable fact is False."""
    if name == 'rotational':
        read, test = _boolean, lambda fact: fact == expression
    elif name == 'size':
        read, test = _gib_fact, _size_test(expression)
    else:
        read, test = _text_fact, _string_test(expression)

    def check(disk):
        fact = read(disk.get(name))
        return fact is not None and test(fact)
    return check


def _disks(disks):
    """The dicts among the first :data:`MAX_DISKS` entries of a report."""
    if not isinstance(disks, (list, tuple)):
        return []
    return [disk for disk in disks[:MAX_DISKS] if isinstance(disk, dict)]


def match(hints, disks):
    """The disks (dicts) matching every hint, in the given order.

    A disk is a dict of facts: ``name``, ``size`` (bytes), ``model``,
    ``vendor``, ``serial``, ``wwn``, ``wwn_with_extension``,
    ``wwn_vendor_extension``, ``hctl``, ``by_path`` (strings),
    ``rotational`` (bool). A missing, None or odd fact matches no hint on
    it. Without hints every disk matches.

    :raises: HintError for hints :func:`parse` refuses.
    """
    tests = [_test(name, expression)
             for name, expression in parse(hints).items()]
    return [disk for disk in _disks(disks)
            if all(test(disk) for test in tests)]


def _guess_key(disk):
    name = disk.get('name')
    return (disk['size'], 0, name) if isinstance(name, str) else (
        disk['size'], 1, '')


def _guess(disks, min_bytes):
    """IPA's guess_root_disk: the smallest disk of at least ``min_bytes``,
    by ``(size, name)``; None when none is."""
    big = [disk for disk in _disks(disks)
           if _gib_fact(disk.get('size')) is not None
           and disk['size'] >= min_bytes]
    return min(big, key=_guess_key) if big else None


def choose(hints, disks, min_bytes=MIN_GUESS_BYTES):
    """The disk the image goes to: with hints, the first matching disk
    (None when none matches); without hints, the smallest disk of at least
    ``min_bytes`` (IPA's ``min_size_required``, :data:`MIN_GUESS_BYTES`
    unless told; None when there is none).

    :raises: HintError for hints :func:`parse` refuses.
    """
    parsed = parse(hints)
    if parsed:
        found = match(parsed, disks)
        return found[0] if found else None
    return _guess(disks, min_bytes)
