"""Parse a YAML or JSON document in bounded time and memory, or refuse it.

A node file comes from an operator, but it may have been generated,
mangled or written to hurt. PyYAML and the json module, used plainly, do
not survive that: libyaml's composer recurses once per nesting level (a
file nested 100,000 deep kills the process with SIGSEGV), json raises
RecursionError, and a YAML "billion laughs" file of under 1 KB expands, by
aliases of aliases, into 9^9 leaves that any walk over the document then
visits. So every document is checked against these limits first, as a
stream of parser events (libyaml's parser keeps its own stack and never
recurses), and built only when it passes:

* at most :data:`MAX_BYTES` bytes;
* collections nested at most :data:`MAX_DEPTH` deep (an Ironic node file
  needs 5);
* aliases adding at most :data:`MAX_ALIAS_NODES` nodes in all, counting
  what the aliased part itself expands to (``driver_info: *bmc`` on every
  node of a 10,000-node file adds about 100,000), and none that refers to a
  collection it is part of;
* integers of more than Python's 4,300 digits kept as their text, so the
  field they sit in is named when it is refused, instead of the parser
  failing with a message that names nothing.
"""

import json

import yaml

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32
MAX_ALIAS_NODES = 1000000


class Refused(ValueError):
    """The document is malformed or over a limit; the text says which."""


_BaseLoader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


class _Loader(_BaseLoader):
    """The safe loader (libyaml's when present), big integers as text."""


def _construct_int(loader, node):
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader,
                                                                   node)
    except ValueError:  # over sys.get_int_max_str_digits()
        return node.value


_Loader.add_constructor('tag:yaml.org,2002:int', _construct_int)


def read(path):
    """The bytes of ``path``, refused beyond :data:`MAX_BYTES`.

    :raises: OSError; Refused when the file is too large.
    """
    with open(path, 'rb') as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Refused('is larger than %s' % (
            '%d MiB' % (MAX_BYTES // 2 ** 20) if MAX_BYTES % 2 ** 20 == 0
            else '%d bytes' % MAX_BYTES))
    return data


def load_yaml(data):
    """One YAML document, checked against the limits before it is built.

    :raises: Refused naming the limit, or the parser's own complaint.
    """
    try:
        _check_yaml_events(data)
        return yaml.load(data, Loader=_Loader)  # noqa: S506 (safe loader)
    except yaml.YAMLError as e:
        raise Refused('is not valid YAML: %s' % _yaml_complaint(e))


def _yaml_complaint(error):
    """What the parser says is wrong, and where, without quoting the file.

    PyYAML's own parser (used when libyaml is not installed) quotes the
    offending line in its message, and that line may hold a password.
    """
    if not isinstance(error, yaml.MarkedYAMLError):
        return ' '.join(str(error).split())
    parts = []
    for text, mark in ((error.context, error.context_mark),
                       (error.problem, error.problem_mark)):
        if text:
            parts.append(text if mark is None else '%s (line %d, column %d)'
                         % (text, mark.line + 1, mark.column + 1))
    return ' '.join(': '.join(parts).split()) or 'malformed'


def _check_yaml_events(data):
    # Each open collection: [anchor, nodes in it so far, counting expansions].
    open_collections = []
    sizes = {}  # anchor -> nodes it expands to
    added = 0
    for event in yaml.parse(data, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_collections) == MAX_DEPTH:
                raise Refused('is nested more than %d levels deep'
                              % MAX_DEPTH)
            open_collections.append([event.anchor, 1])
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_collections.pop()
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor is not None:
                sizes[event.anchor] = size
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor
                   for anchor, _ in open_collections):
                raise Refused('alias *%s refers to a collection it is part '
                              'of' % event.anchor[:60])
            size = sizes.get(event.anchor, 1)  # unknown: the loader says
            added += size
            if added > MAX_ALIAS_NODES:
                raise Refused('its aliases expand to more than %d nodes'
                              % MAX_ALIAS_NODES)
        else:
            continue
        if open_collections:
            open_collections[-1][1] += size


def load_json(data):
    """One JSON document, within the same limits.

    :raises: Refused naming the limit, or the parser's own complaint.
    """
    try:
        document = json.loads(data, parse_int=_json_int)
    except RecursionError:
        raise Refused('is nested more than %d levels deep' % MAX_DEPTH)
    except ValueError as e:
        raise Refused('is not valid JSON: %s' % ' '.join(str(e).split()))
    _check_depth(document)
    return document


def _json_int(text):
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits()
        return text


def _check_depth(document):
    """Refuse a built document nested deeper than MAX_DEPTH, iteratively."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise Refused('is nested more than %d levels deep' % MAX_DEPTH)
        pending.extend((child, depth + 1) for child in children)
