"""The drift report from task outcomes: statuses, exit codes, diffs, summary, HTML."""
import json

from berth.drift.report import DriftReport, diff_text, expected_and_actual, render_html, summary_lines

DAEMON_DIFF = {"before": '{\n  "debug": true\n}\n', "after": '{\n  "debug": false\n}\n',
               "before_header": "/etc/docker/daemon.json (actual)", "after_header": "/etc/docker/daemon.json"}


def test_diff_text_is_a_unified_diff_with_the_headers():
    assert diff_text(DAEMON_DIFF) == (
        "--- /etc/docker/daemon.json (actual)\n+++ /etc/docker/daemon.json\n@@ -1,3 +1,3 @@\n"
        ' {\n-  "debug": true\n+  "debug": false\n }\n')


def test_diff_text_handles_lists_prepared_text_and_structures():
    assert diff_text([{"prepared": "+ pkg docker.io"}, None]) == "+ pkg docker.io"
    assert diff_text({"before": {"state": "stopped"}, "after": {"state": "started"}}) == (
        '--- actual\n+++ expected\n@@ -1,3 +1,3 @@\n {\n-  "state": "stopped"\n+  "state": "started"\n }\n')
    assert diff_text(None) == ""


def test_expected_is_after_and_actual_is_before():
    assert expected_and_actual(DAEMON_DIFF) == ('{\n  "debug": false\n}\n', '{\n  "debug": true\n}\n')


def build():
    report = DriftReport("2026-11-29T00:00:00Z")
    for host in ("h1", "h2", "h3"):
        report.task_ok(host, "role : Write daemon.json", "role", "role : Write daemon.json", host == "h2",
                       DAEMON_DIFF if host == "h2" else None, "t1")
        report.task_skipped(host, "role : Configure EL repos")
    report.add_findings("h1", [{"finding": "firewall_disabled", "detail": "firewalld is not running"}])
    return report


def test_in_sync_fleet_exits_0_and_drift_exits_2():
    clean = DriftReport("s")
    clean.task_ok("h1", "a", "r", "a", False, None, "t")
    assert clean.exit_code() == 0
    assert build().exit_code() == 2


def test_unreachable_or_failed_hosts_exit_3_and_are_never_in_sync():
    report = build()
    report.host_unreachable("h3", "ssh: connect to host h3 port 22: No route to host")
    data = report.as_dict("f")
    assert data["exit_code"] == 3
    assert data["hosts"]["h3"]["status"] == "unreachable"
    failed = build()
    failed.task_failed("h1", "role : Read facts", "boom")
    assert failed.as_dict("f")["hosts"]["h1"] == {
        "status": "failed", "drifted_items": 0, "message": "role : Read facts: boom",
        "checks": {"role : Write daemon.json": "in sync", "role : Configure EL repos": "skipped",
                   "role : Read facts": "failed"}}
    assert failed.exit_code() == 3


def test_report_lists_exactly_the_drifted_items_with_expected_and_actual():
    data = build().as_dict("2026-11-29T00:00:05Z")
    assert [(i["host"], i["item"]) for i in data["items"]] == [("h2", "role : Write daemon.json")]
    item = data["items"][0]
    assert (item["expected"], item["actual"], item["role"], item["time"]) == (
        '{\n  "debug": false\n}\n', '{\n  "debug": true\n}\n', "role", "t1")
    assert {h: e["status"] for h, e in data["hosts"].items()} == {"h1": "in sync", "h2": "drifted", "h3": "in sync"}
    assert data["findings"] == [{"host": "h1", "finding": "firewall_disabled", "detail": "firewalld is not running"}]
    json.dumps(data)  # serialisable as is


def test_summary_has_one_line_per_host_then_the_items_and_findings():
    assert summary_lines(build().as_dict("f")) == [
        "h1                       in sync",
        "h2                       drifted, 1 item",
        "                           - role : Write daemon.json",
        "h3                       in sync",
        "security  h1             firewall_disabled: firewalld is not running",
    ]


def test_html_is_self_contained_with_one_matrix_row_per_host_and_linked_diffs():
    page = render_html(build().as_dict("2026-11-29T00:00:05Z"))
    assert page.count("<tr>") == 4  # header + 3 hosts
    assert 'data-hosts="3"' in page
    assert '<a class="cell" href="#d0">drift</a>' in page
    assert '<details id="d0"><summary>h2: role : Write daemon.json' in page
    assert "&quot;debug&quot;: false" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
