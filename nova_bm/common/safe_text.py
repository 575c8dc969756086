"""How text from outside (argv, files, databases) appears in messages.

Every error of nova-bm is one line on an operator's terminal or in a log.
Values an operator typed, or a node file holds, may carry newlines,
terminal escape sequences or megabytes: quoted raw, they would break the
line, drive the terminal, or flood the log. These two functions are the
only ways such a value enters a message.
"""

import reprlib

# What stands in for a secret (a password) wherever it would be shown.
MASK = '******'
# A message quotes at most this much of any one value.
MAX_QUOTED = 60
# And says at most this much in all.
MAX_MESSAGE = 2000

_QUOTE = reprlib.Repr()
_QUOTE.maxstring = _QUOTE.maxother = MAX_QUOTED
_QUOTE.maxlist = _QUOTE.maxtuple = _QUOTE.maxdict = _QUOTE.maxset = 4
_QUOTE.maxlevel = 2


def quote(value):
    """``repr(value)``, cut short: ``'rack1-n…de-07'``, ``[1, 2, 3, 4, ...]``.

    Control characters come out escaped (``'a\\nb'``, ``'\\x1b[2J'``); the
    work done is bounded whatever the value's size or nesting.
    """
    try:
        return _QUOTE.repr(value)
    except ValueError:  # an int beyond Python's 4,300-digit str() limit
        return '<a number of over 4300 digits>'


def escape(text, limit=MAX_MESSAGE):
    """``text`` on one line: every non-printable character escaped.

    ``'bad\\x1b[2Jname\\n'`` becomes ``'bad\\\\x1b[2Jname\\\\n'``: readable,
    inert on a terminal. Printable non-ASCII (``é``, ``ノード``) is kept.
    Longer than ``limit`` characters, it is cut with ``…``.
    """
    if len(text) > limit:
        text = text[:limit] + '…'
    if text.isprintable():
        return text
    return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)
