import os

import pytest
from berth.hostprep import selinux
from berth.hostprep.errors import HostprepError

from .helpers import fixture


def test_parse_el7_config():
    assert selinux.parse_selinux_config(fixture("selinux-config-el7")) == {
        "SELINUX": "enforcing", "SELINUXTYPE": "targeted"}


def test_render_keeps_comments_and_changes_only_the_mode():
    before = fixture("selinux-config-el7")
    after = selinux.render_selinux_config(before, "disabled")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert changed == [("SELINUX=enforcing", "SELINUX=disabled")]
    assert len(after.splitlines()) == len(before.splitlines())


def test_render_sets_policy_and_appends_missing_keys():
    assert selinux.render_selinux_config("# empty\n", "enforcing", "targeted") == (
        "# empty\nSELINUX=enforcing\nSELINUXTYPE=targeted\n")


def test_render_collapses_duplicate_assignments():
    text = "SELINUX=enforcing\nSELINUX=permissive\n"
    assert selinux.render_selinux_config(text, "disabled") == "SELINUX=disabled\n"


def test_getenforce_and_sestatus():
    assert selinux.parse_getenforce("Enforcing\n") == "enforcing"
    assert selinux.parse_getenforce("Disabled\n") == "disabled"
    with pytest.raises(ValueError):
        selinux.parse_getenforce("getenforce: command not found")
    status = selinux.parse_sestatus(fixture("sestatus-el7"))
    assert status["selinux_status"] == "enabled"
    assert status["current_mode"] == "enforcing"
    assert status["mode_from_config_file"] == "enforcing"
    assert status["loaded_policy_name"] == "targeted"


@pytest.fixture
def el7_host(tmp_path):
    """A config file as EL 7 ships it and a selinuxfs-like directory holding ``enforce``."""
    config = tmp_path / "config"
    config.write_text(fixture("selinux-config-el7"))
    fs = tmp_path / "selinuxfs"
    fs.mkdir()
    (fs / "enforce").write_text("1")
    return config, fs


def test_disable_on_enforcing_host_then_idempotent(el7_host):
    config, fs = el7_host
    manager = selinux.SelinuxManager(str(config), str(fs))
    plan = manager.plan("disabled")
    assert (plan["config_changed"], plan["runtime_before"], plan["runtime_after"]) == (
        True, "enforcing", "permissive")
    assert plan["reboot_required"] is True
    manager.apply(plan)
    assert selinux.parse_selinux_config(config.read_text())["SELINUX"] == "disabled"
    assert (fs / "enforce").read_text() == "0"
    again = manager.plan("disabled")
    assert (again["config_changed"], again["runtime_changed"], again["reboot_required"]) == (
        False, False, True)


def test_apply_keeps_file_mode(el7_host):
    config, fs = el7_host
    os.chmod(str(config), 0o600)
    manager = selinux.SelinuxManager(str(config), str(fs))
    manager.apply(manager.plan("permissive"))
    assert os.stat(str(config)).st_mode & 0o777 == 0o600
    assert (fs / "enforce").read_text() == "0"


def test_enforcing_on_kernel_without_selinux_needs_reboot(el7_host):
    config, _ = el7_host
    config.write_text("SELINUX=disabled\nSELINUXTYPE=targeted\n")
    plan = selinux.SelinuxManager(str(config), None).plan("enforcing")
    assert plan["config_after"] == "SELINUX=enforcing\nSELINUXTYPE=targeted\n"
    assert (plan["runtime_before"], plan["runtime_after"], plan["reboot_required"]) == (
        "disabled", "disabled", True)


def test_disabled_without_selinux_at_all_is_a_no_op(tmp_path):
    plan = selinux.SelinuxManager(str(tmp_path / "missing"), None).plan("disabled")
    assert (plan["config_changed"], plan["runtime_changed"], plan["reboot_required"],
            plan["selinux_present"]) == (False, False, False, False)


def test_enforcing_without_policy_fails_before_change(tmp_path):
    with pytest.raises(HostprepError, match="does not exist"):
        selinux.SelinuxManager(str(tmp_path / "missing"), None).plan("enforcing")
    assert not (tmp_path / "missing").exists()


def test_unknown_state_is_refused(el7_host):
    config, fs = el7_host
    with pytest.raises(HostprepError, match="unknown SELinux state 'enforced'"):
        selinux.SelinuxManager(str(config), str(fs)).plan("enforced")
    assert config.read_text() == fixture("selinux-config-el7")


def test_policy_change_on_running_selinux_needs_reboot(el7_host):
    config, fs = el7_host
    plan = selinux.SelinuxManager(str(config), str(fs)).plan("enforcing", "mls")
    assert (plan["config_changed"], plan["runtime_changed"], plan["reboot_required"]) == (True, False, True)
