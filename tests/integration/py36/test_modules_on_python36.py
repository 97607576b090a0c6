"""berth's modules run by the legacy lane's ansible-core on a Python 3.6 target (CentOS 7's python3).

vermin reads the code; this runs it. A Python 3.6 exists on this machine kind (pyenv); a machine
without one skips these tests and says so.
"""
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def find_python36():
    """A working Python 3.6 interpreter (a pyenv shim on PATH may name one that does not run)."""
    for candidate in sorted(glob.glob("/root/.pyenv/versions/3.6*/bin/python3.6")) + [shutil.which("python3.6")]:
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 6)"],
                                        capture_output=True, check=False).returncode == 0:
            return candidate
    return None


PY36 = find_python36()
LEGACY = "ansible-core 2.16" in subprocess.run(
    [os.path.join(os.path.dirname(sys.executable), "ansible"), "--version"], capture_output=True, text=True,
    check=False).stdout.replace("[core ", "ansible-core ").replace("ansible [", "")

pytestmark = [
    pytest.mark.skipif(PY36 is None, reason="no Python 3.6 interpreter on this machine (python3.6 or pyenv 3.6.x)"),
    pytest.mark.skipif(not LEGACY, reason="ansible-core 2.17+ no longer runs modules on Python 3.6"),
]


def module(name, *args, check=False):
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-o",
            "-e", "ansible_python_interpreter=%s" % PY36, "-m", name, *args]
    if check:
        argv.append("--check")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    line = proc.stdout.strip()
    assert " => " in line, proc.stdout + proc.stderr
    return line.split(" => ", 1)[0], json.loads(line.split(" => ", 1)[1])


def test_every_bundled_module_imports_on_python36():
    proc = subprocess.run([PY36, os.path.join(ROOT, "tests", "lint", "import_all.py"),
                           os.path.join(ROOT, "module_utils")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.strip().endswith(", 0 failed")


def test_preflight_facts_on_python36():
    status, result = module("berth_preflight_info")
    assert status == "localhost | SUCCESS"
    facts = result["ansible_facts"]["berth_preflight"]
    assert facts["python"]["version"].startswith("3.6.")
    assert facts["distribution"]["family"] == "Debian"
    assert facts["cgroup_version"] == 1


def test_selinux_and_sysctl_in_check_mode_on_python36(tmp_path):
    config = tmp_path / "selinux-config"
    config.write_text("SELINUX=enforcing\nSELINUXTYPE=targeted\n")
    status, result = module("berth_selinux", "-a", "state=disabled configfile=%s" % config, check=True)
    assert status == "localhost | CHANGED"
    # This kernel runs without SELinux, so disabling it in the config needs no reboot.
    assert (result["config_mode"], result["runtime_mode"], result["reboot_required"]) == ("disabled", "disabled",
                                                                                          False)
    assert config.read_text() == "SELINUX=enforcing\nSELINUXTYPE=targeted\n"
    path = tmp_path / "90-test.conf"
    status, result = module("berth_sysctl", "-a", json.dumps({"path": str(path),
                            "modules_load_path": str(tmp_path / "m.conf"),
                            "settings": {"net.ipv4.ip_forward": "1"}}), check=True)
    assert status in ("localhost | CHANGED", "localhost | SUCCESS")
    assert not path.exists()


def test_security_findings_on_python36():
    status, result = module("berth_security_info")
    assert status == "localhost | SUCCESS"
    assert {f["finding"] for f in result["berth_findings"]} >= {"selinux_disabled", "firewall_disabled"}


def test_preflight_returns_the_same_findings_when_asked_on_python36():
    _status, alone = module("berth_security_info")
    status, result = module("berth_preflight_info", "-a", "security_findings=true")
    assert status == "localhost | SUCCESS"
    assert result["berth_findings"] == alone["berth_findings"]
    _status, plain = module("berth_preflight_info")
    assert "berth_findings" not in plain
