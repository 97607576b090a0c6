"""Docker's output conventions: tab-aligned tables, human sizes and durations,
and the subset of Go templates that ``--format`` strings use.

Supported template actions: ``{{.}}``, ``{{.Field.Sub}}``, ``{{json X}}``,
``{{index X KEY}}``, ``{{len X}}``, ``{{join X "sep"}}``, ``{{upper X}}``,
``{{lower X}}``, ``{{title X}}``, ``{{println X}}``, ``{{range X}}...{{end}}``,
``{{if X}}...{{else}}...{{end}}``; a ``table`` prefix prints a header row.
"""
import json
import re
import time

from ..common.errors import InvalidParameter


class TemplateError(InvalidParameter):
    """A --format string that does not parse or names an unknown function."""


# -- sizes and durations ---------------------------------------------------

_DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def human_size(size):
    """go-units HumanSizeWithPrecision(size, 3): ``77.8MB``, ``145MB``, ``1.23GB``."""
    size = float(size)
    index = 0
    while size >= 1000.0 and index < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        index += 1
    return "%.3g%s" % (size, _DECIMAL_UNITS[index])


def binary_size(size):
    """go-units BytesSize: ``1.5MiB``, ``7.773GiB`` (docker stats)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return "%.4g%s" % (size, unit)
        size /= 1024.0
    return "%dB" % size


def human_duration(seconds):
    """go-units HumanDuration."""
    seconds_i = int(seconds)
    if seconds_i < 1:
        return "Less than a second"
    if seconds_i == 1:
        return "1 second"
    if seconds_i < 60:
        return "%d seconds" % seconds_i
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return "%d minutes" % minutes
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return "%d hours" % hours
    if hours < 24 * 7 * 2:
        return "%d days" % (hours // 24)
    if hours < 24 * 30 * 2:
        return "%d weeks" % (hours // 24 // 7)
    if hours < 24 * 365 * 2:
        return "%d months" % (hours // 24 // 30)
    return "%d years" % (int(seconds / 3600) // 24 // 365)


def parse_rfc3339(text):
    """Seconds since the epoch for ``2026-11-29T02:10:00.123456789Z`` (or with an offset)."""
    if not text:
        return 0.0
    match = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text)
    if not match:
        return 0.0
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    import calendar
    value = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match.group(7):
        value += float(match.group(7))
    zone = match.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        value -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return value


def since(text, now=None):
    stamp = parse_rfc3339(text)
    if not stamp:
        return "N/A"
    return human_duration((now or time.time()) - stamp) + " ago"


# -- tables ----------------------------------------------------------------

def render_table(rows, minwidth=10, padding=3):
    """Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`` over tab-separated rows."""
    split = [row.split("\t") for row in rows]
    widths = {}
    for cells in split:
        for index, cell in enumerate(cells[:-1]):
            widths[index] = max(widths.get(index, 0), len(cell) + padding, minwidth)
    lines = []
    for cells in split:
        parts = [cell.ljust(widths[index]) for index, cell in enumerate(cells[:-1])]
        parts.append(cells[-1])
        lines.append("".join(parts).rstrip() if len(cells) > 1 else cells[0])
    return lines


# -- Go templates ------------------------------------------------------------

_TOKEN = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)


def go_str(value):
    """Print a value the way Go's text/template does."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join("%s:%s" % (k, go_str(value[k])) for k in sorted(value)) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _split_args(text):
    args = []
    for match in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', text):
        if match.group(1) is not None:
            args.append(("str", json.loads('"' + match.group(1) + '"')))
        else:
            args.append(("word", match.group(2)))
    return args


def _parse(template):
    """Parse into nested nodes: ("text", s) | ("action", expr) | ("range"|"if", expr, body, else)."""
    pos = 0
    root = []
    stack = [(None, root)]
    for match in _TOKEN.finditer(template):
        if match.start() > pos:
            stack[-1][1].append(("text", template[pos:match.start()]))
        pos = match.end()
        action = match.group(1)
        keyword = action.split(None, 1)[0] if action else ""
        if keyword in ("range", "if"):
            node = [keyword, action[len(keyword):].strip(), [], None]
            stack[-1][1].append(node)
            stack.append((node, node[2]))
        elif keyword == "else":
            if len(stack) == 1:
                raise TemplateError("template: unexpected {{else}}")
            node = stack[-1][0]
            node[3] = []
            stack[-1] = (node, node[3])
        elif keyword == "end":
            if len(stack) == 1:
                raise TemplateError("template: unexpected {{end}}")
            stack.pop()
        else:
            stack[-1][1].append(("action", action))
    if len(stack) != 1:
        raise TemplateError("template: unexpected EOF (missing {{end}})")
    if pos < len(template):
        root.append(("text", template[pos:]))
    return root


def _field(value, path):
    for name in [p for p in path.split(".") if p]:
        value = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
        if value is None:
            return None
    return value


def _eval_arg(arg, dot):
    kind, text = arg
    if kind == "str":
        return text
    if text == ".":
        return dot
    if text.startswith("."):
        return _field(dot, text)
    if re.match(r"^-?\d+$", text):
        return int(text)
    raise TemplateError("template: function %r not defined" % text)


def _eval(expr, dot):
    args = _split_args(expr)
    if not args:
        return ""
    head_kind, head = args[0]
    rest = args[1:]
    if head_kind == "word" and not head.startswith(".") and not re.match(r"^-?\d+$", head):
        values = [_eval_arg(a, dot) for a in rest]
        if head == "json":
            return json.dumps(values[0] if values else dot, separators=(",", ":"))
        if head == "index":
            value = values[0]
            for key in values[1:]:
                try:
                    value = value[key]
                except (IndexError, KeyError, TypeError):
                    raise TemplateError("template: index of %r out of range" % key)
            return value
        if head == "len":
            return len(values[0] or [])
        if head == "join":
            return values[1].join(str(v) for v in (values[0] or []))
        if head == "upper":
            return go_str(values[0]).upper()
        if head == "lower":
            return go_str(values[0]).lower()
        if head == "title":
            return go_str(values[0]).title()
        if head == "println":
            return " ".join(go_str(v) for v in values) + "\n"
        if head == "print":
            return "".join(go_str(v) for v in values)
        raise TemplateError("template: function %r not defined" % head)
    return _eval_arg(args[0], dot)


def _run(nodes, dot, out):
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "action":
            value = _eval(node[1], dot)
            out.append(value if isinstance(value, str) else go_str(value))
        elif node[0] == "range":
            items = _eval(node[1], dot)
            if isinstance(items, dict):
                items = [items[k] for k in sorted(items)]
            if items:
                for item in items:
                    _run(node[2], item, out)
            elif node[3]:
                _run(node[3], dot, out)
        elif node[0] == "if":
            if _eval(node[1], dot):
                _run(node[2], dot, out)
            elif node[3]:
                _run(node[3], dot, out)


class Template(object):
    """A compiled ``--format`` string."""

    def __init__(self, text):
        text = text.replace("\\t", "\t").replace("\\n", "\n")
        self.table = text.startswith("table")
        if self.table:
            text = text[len("table"):].lstrip(" ")
        self.text = text
        self.nodes = _parse(text)

    def render(self, dot):
        out = []
        _run(self.nodes, dot, out)
        return "".join(out)

    def header(self, headers):
        """The header row of a table format: each ``{{.Field}}`` becomes its column title."""
        def title(match):
            expr = match.group(1).strip()
            if expr.startswith("."):
                return headers.get(expr[1:], expr[1:].upper())
            return ""
        return _TOKEN.sub(title, self.text)


def print_formatted(fmt, rows, headers):
    """Rows through a Go template; a ``table`` template gets its header row and Go's tabwriter."""
    import sys
    template = Template(fmt)
    lines = [template.render(row) for row in rows]
    if template.table:
        lines = render_table([template.header(headers)] + lines)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")


def print_documents(documents, fmt=None):
    """``inspect``: each document through ``--format``, or all of them as indented JSON."""
    import sys
    if fmt:
        template = Template(fmt)
        for document in documents:
            sys.stdout.write(template.render(document) + "\n")
    else:
        sys.stdout.write(json.dumps(documents, indent=4) + "\n")
