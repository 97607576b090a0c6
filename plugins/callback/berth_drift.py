# Copyright: berth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collect every task that would change, with its diff, per host, from a --check --diff run."""

DOCUMENTATION = r"""
name: berth_drift
type: aggregate
short_description: Drift report (terminal, JSON, HTML) from a check-mode run of the host roles
description:
  - Enabled only for drift runs (C(make drift), C(bin/berth-drift), or
    C(ANSIBLE_CALLBACKS_ENABLED=berth_drift)). Records each task outcome per host during a
    C(--check --diff) run; a task that would change is drift, with its diff.
  - Results of tasks returning C(berth_findings) are kept as security findings, not drift.
  - A task that fails with C(berth_drift) (a host state a real run refuses to repair by itself,
    such as another drop-in owning dockerd's ExecStart) is drift, with that diff.
  - At the end prints one line per host and writes C(report.json) and C(report.html) into a
    timestamped folder under O(report_dir), with a C(latest) link to it.
options:
  report_dir:
    description: Folder that receives the timestamped report folders and the C(latest) link.
    default: reports
    env:
      - name: BERTH_DRIFT_REPORT_DIR
    ini:
      - section: berth_drift
        key: report_dir
"""

import datetime
import json
import os
import sys

from ansible.plugins.callback import CallbackBase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "module_utils"))
from berth.drift.report import DriftReport, render_html, summary_lines


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parts(result):
    """(host name, task, result dict) across ansible-core 2.16 and 2.19 result objects."""
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    data = getattr(result, "result", None)
    if not isinstance(data, dict):
        data = result._result
    return host.get_name(), task, data


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "berth_drift"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = DriftReport(_now())

    @staticmethod
    def _item(task):
        return task.get_name().strip()

    @staticmethod
    def _role(task):
        role = getattr(task, "_role", None)
        return role.get_name() if role else ""

    def v2_runner_on_ok(self, result):
        host, task, data = _parts(result)
        if "berth_findings" in data:
            self.report.add_findings(host, data["berth_findings"])
            return
        item = self._item(task)
        loop = data.get("results")
        outcomes = loop if isinstance(loop, list) and loop else [data]
        for outcome in outcomes:
            if not isinstance(outcome, dict) or outcome.get("skipped"):
                continue
            name = item
            if outcome is not data and outcome.get("changed"):
                label = outcome.get("_ansible_item_label", outcome.get("item"))
                name = "%s (%s)" % (item, label if isinstance(label, str) else json.dumps(label, sort_keys=True))
            changed = bool(outcome.get("changed"))
            diff = outcome.get("diff")
            if changed and not diff and outcome.get("msg"):
                # A task that reports a change without a diff (e.g. a check-mode summary) says what in msg.
                diff = {"prepared": str(outcome["msg"])}
            self.report.task_ok(host, item if not changed else name, self._role(task), task.get_name(), changed,
                                diff, _now())

    def v2_runner_on_skipped(self, result):
        host, task, _data = _parts(result)
        self.report.task_skipped(host, self._item(task))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            return
        host, task, data = _parts(result)
        if data.get("berth_drift"):
            # The host differs in a way a real run refuses to repair by itself (e.g. another drop-in
            # owning ExecStart): drift to report, with the diff, not a failed check.
            self.report.task_ok(host, self._item(task), self._role(task), task.get_name(), True,
                                data["berth_drift"], _now())
            return
        self.report.task_failed(host, self._item(task), data.get("msg") or data.get("stderr") or "failed")

    def v2_runner_on_unreachable(self, result):
        host, _task, data = _parts(result)
        self.report.host_unreachable(host, data.get("msg") or "unreachable")

    def v2_playbook_on_stats(self, stats):
        report = self.report.as_dict(_now())
        folder = self._write(report)
        self._display.banner("DRIFT REPORT")
        for line in summary_lines(report):
            self._display.display(line)
        self._display.display("report: %s (exit code %d)" % (folder, report["exit_code"]))

    def _write(self, report):
        root = os.path.abspath(self.get_option("report_dir"))
        stamp = report["finished"].replace("-", "").replace(":", "")
        folder = os.path.join(root, "drift-" + stamp)
        suffix = 1
        while os.path.exists(folder):
            suffix += 1
            folder = os.path.join(root, "drift-%s-%d" % (stamp, suffix))
        os.makedirs(folder)
        with open(os.path.join(folder, "report.json"), "w") as handle:
            json.dump(report, handle, indent=2, sort_keys=True)
        with open(os.path.join(folder, "report.html"), "w") as handle:
            handle.write(render_html(report))
        link = os.path.join(root, "latest")
        temporary = link + ".new"
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(os.path.basename(folder), temporary)
        os.replace(temporary, link)
        return folder
