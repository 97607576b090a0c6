"""The drift report: what a check-mode run of the host roles found, per host and per item.

Built by the ``berth_drift`` callback from the task results of a ``--check --diff`` run, then
written as JSON (for machines), a self-contained HTML page (a fleet matrix for people) and a
terminal summary. Pure functions over plain dicts, so they are tested with fixture events.
"""
import difflib
import html
import json

IN_SYNC, DRIFTED, UNREACHABLE, FAILED = "in sync", "drifted", "unreachable", "failed"
EXIT_IN_SYNC, EXIT_DRIFT, EXIT_UNREACHABLE_OR_FAILED = 0, 2, 3


def diff_text(diff):
    """Unified diff text from Ansible's diff result (a dict, a list of dicts, or prepared text)."""
    if not diff:
        return ""
    if isinstance(diff, list):
        return "\n".join(filter(None, (diff_text(part) for part in diff)))
    if "prepared" in diff:
        return str(diff["prepared"])
    before, after = _as_text(diff.get("before")), _as_text(diff.get("after"))
    lines = difflib.unified_diff(
        before.splitlines(True), after.splitlines(True),
        fromfile=diff.get("before_header") or "actual", tofile=diff.get("after_header") or "expected",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _as_text(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, sort_keys=True) + "\n"
    return str(value)


def expected_and_actual(diff):
    """The after (what the inventory declares) and before (what the host has) sides of a diff."""
    parts = diff if isinstance(diff, list) else [diff] if diff else []
    expected = "".join(_as_text(p.get("after")) for p in parts if isinstance(p, dict) and "prepared" not in p)
    actual = "".join(_as_text(p.get("before")) for p in parts if isinstance(p, dict) and "prepared" not in p)
    return expected, actual


class DriftReport:
    """Accumulates task outcomes per host; ``as_dict`` gives the JSON report."""

    def __init__(self, started):
        self.started = started
        self.hosts = {}      # host -> {"status", "message", "checks": {item: state}}
        self.items = []      # drifted items, in the order found
        self.findings = []   # security findings, not drift
        self.columns = []    # checked items, in the order first seen

    def _host(self, host):
        return self.hosts.setdefault(host, {"status": IN_SYNC, "message": "", "checks": {}})

    def _check(self, host, item, state):
        if item not in self.columns:
            self.columns.append(item)
        checks = self._host(host)["checks"]
        # A drifted or failed outcome of an item wins over an in-sync one of the same item (loops).
        rank = {"skipped": 0, IN_SYNC: 1, DRIFTED: 2, FAILED: 3}
        if rank[state] >= rank.get(checks.get(item), -1):
            checks[item] = state

    def task_ok(self, host, item, role, task, changed, diff, when):
        self._check(host, item, DRIFTED if changed else IN_SYNC)
        if changed:
            expected, actual = expected_and_actual(diff)
            self.items.append({"host": host, "item": item, "role": role, "task": task, "expected": expected,
                               "actual": actual, "diff": diff_text(diff), "time": when})
            entry = self._host(host)
            if entry["status"] == IN_SYNC:
                entry["status"] = DRIFTED

    def task_skipped(self, host, item):
        self._check(host, item, "skipped")

    def task_failed(self, host, item, message):
        self._check(host, item, FAILED)
        entry = self._host(host)
        if entry["status"] != UNREACHABLE:
            entry["status"] = FAILED
            entry["message"] = entry["message"] or "%s: %s" % (item, message)

    def host_unreachable(self, host, message):
        entry = self._host(host)
        entry["status"], entry["message"] = UNREACHABLE, message

    def add_findings(self, host, findings):
        for finding in findings:
            self.findings.append(dict(finding, host=host))

    def drift_count(self, host):
        return sum(1 for item in self.items if item["host"] == host)

    def exit_code(self):
        statuses = {entry["status"] for entry in self.hosts.values()}
        if statuses & {UNREACHABLE, FAILED}:
            return EXIT_UNREACHABLE_OR_FAILED
        return EXIT_DRIFT if DRIFTED in statuses else EXIT_IN_SYNC

    def as_dict(self, finished):
        return {
            "started": self.started,
            "finished": finished,
            "exit_code": self.exit_code(),
            "hosts": {
                host: {"status": entry["status"], "drifted_items": self.drift_count(host),
                       "message": entry["message"], "checks": entry["checks"]}
                for host, entry in sorted(self.hosts.items())
            },
            "columns": self.columns,
            "items": self.items,
            "findings": sorted(self.findings, key=lambda f: (f["host"], f["finding"])),
        }


def summary_lines(report):
    """One line per host for the terminal, then the security findings."""
    lines = []
    for host, entry in report["hosts"].items():
        status = entry["status"]
        if status == DRIFTED:
            count = entry["drifted_items"]
            text = "drifted, %d item%s" % (count, "" if count == 1 else "s")
        elif status in (UNREACHABLE, FAILED):
            text = "%s: %s" % (status, entry["message"])
        else:
            text = status
        lines.append("%-24s %s" % (host, text))
        for item in report["items"]:
            if item["host"] == host:
                lines.append("%-24s   - %s" % ("", item["item"]))
    for finding in report["findings"]:
        lines.append("security  %-14s %s: %s" % (finding["host"], finding["finding"], finding["detail"]))
    return lines


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330}
h1{font-size:20px;margin:0 0 4px}p.meta{color:#5b6474;margin:0 0 16px}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #d5dae3;padding:4px 8px;text-align:center}
th.item{vertical-align:bottom;font-weight:500;padding:4px 2px}
th.item div{writing-mode:vertical-rl;transform:rotate(180deg);max-height:220px;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}
td.host{text-align:left;font-weight:600}
.s-in-sync{background:#cdeccf}.s-drifted{background:#f6c2c0}.s-failed{background:#f3d08a}
.s-skipped{background:#eef0f4;color:#8a93a3}.s-unreachable{background:#59606e;color:#fff}
a.cell{color:inherit;text-decoration:none;display:block}
details{margin:6px 0;border:1px solid #d5dae3;border-radius:4px;padding:4px 8px}
pre{background:#f6f8fa;padding:8px;overflow:auto}
"""

SCRIPT = """
function openTarget(){var d=document.getElementById(location.hash.slice(1));if(d&&d.tagName==='DETAILS')d.open=true;}
window.addEventListener('hashchange',openTarget);openTarget();
"""


def render_html(report, title="berth drift report"):
    """A self-contained page: the fleet matrix (hosts by checked items), then the diffs."""
    esc = html.escape
    columns = report["columns"]
    anchors = {}
    for index, item in enumerate(report["items"]):
        anchors.setdefault((item["host"], item["item"]), "d%d" % index)
    rows = []
    for host, entry in report["hosts"].items():
        cells = ['<td class="host">%s</td>' % esc(host), '<td class="s-%s">%s</td>' % (
            entry["status"].replace(" ", "-"), esc(entry["status"]))]
        for column in columns:
            state = "unreachable" if entry["status"] == UNREACHABLE else entry["checks"].get(column, "skipped")
            anchor = anchors.get((host, column))
            label = {"in sync": "ok", "drifted": "drift", "failed": "failed"}.get(state, "")
            body = '<a class="cell" href="#%s">%s</a>' % (anchor, label) if anchor else label
            cells.append('<td class="s-%s" title="%s">%s</td>' % (state.replace(" ", "-"), esc(column), body))
        rows.append("<tr>%s</tr>" % "".join(cells))
    header = '<tr><th>host</th><th>status</th>%s</tr>' % "".join(
        '<th class="item" title="%s"><div>%s</div></th>' % (esc(column), esc(column.split(" : ", 1)[-1]))
        for column in columns)
    diffs = "".join(
        '<details id="%s"><summary>%s: %s <small>(%s)</small></summary><pre>%s</pre></details>' % (
            "d%d" % index, esc(item["host"]), esc(item["item"]), esc(item["time"]),
            esc(item["diff"] or "(the task would change this item; it reports no diff)"))
        for index, item in enumerate(report["items"]))
    findings = "".join("<li><b>%s</b> %s: %s</li>" % (esc(f["host"]), esc(f["finding"]), esc(f["detail"]))
                       for f in report["findings"])
    counts = {}
    for entry in report["hosts"].values():
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    meta = ", ".join("%d %s" % (n, status) for status, n in sorted(counts.items()))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title><style>%s</style></head>'
        '<body><h1>%s</h1><p class="meta">%s &middot; %d host(s): %s &middot; exit code %d</p>'
        '<table id="matrix" data-hosts="%d">%s%s</table><h2>Drift</h2>%s<h2>Security findings</h2><ul>%s</ul>'
        '<script>%s</script></body></html>\n'
    ) % (esc(title), CSS, esc(title), esc(report["finished"]), len(report["hosts"]), esc(meta),
         report["exit_code"], len(report["hosts"]), header, "".join(rows),
         diffs or "<p>No drift.</p>", findings or "<li>None.</li>", SCRIPT)
