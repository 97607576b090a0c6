"""One boot of the cgroup-v2 guest per session (tests/support/cgroup2_vm.py); the tests assert
on its report. A machine that cannot boot it skips, saying why; a guest that boots but breaks
fails every test with the guest's console."""
import shutil
import tempfile

import pytest
from support import cgroup2_vm


class Guest(object):
    def __init__(self, report, console, seconds):
        self.report, self.console, self.seconds = report, console, seconds

    def step(self, name):
        """One check's facts; a check that raised in the guest fails here with its traceback."""
        facts = self.report.get(name)
        if facts is None:
            pytest.fail("the guest report has no %s; console tail:\n%s" % (name, self.console[-4000:]))
        if isinstance(facts, dict) and "error" in facts:
            pytest.fail("%s raised in the guest:\n%s" % (name, facts["error"]))
        return facts


@pytest.fixture(scope="session")
def guest():
    reason = cgroup2_vm.unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tempfile.mkdtemp(prefix="berth-vm-")
    try:
        report, console, seconds = cgroup2_vm.boot(workdir)
    except cgroup2_vm.VMError as exc:
        pytest.fail("the cgroup-v2 guest did not run: %s" % exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if report is None:
        pytest.fail("the cgroup-v2 guest wrote no report; console tail:\n%s" % console[-4000:])
    return Guest(report, console, seconds)
