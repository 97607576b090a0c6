"""berth's cgroup-v2 limits on a real v2 kernel (a Debian 12 guest, cgroup_no_v1=all).

The guest runs berth's CLI on a busybox image and reports what the kernel shows; these tests
hold that against what runc writes for the same flags (cgroups.convert_resources/values_v2).
"""
import re

import pytest
from berth.runtime.container import cgroups

MIB = 1 << 20


def test_guest_is_a_unified_host_with_controllers(guest):
    host = guest.step("check_host")
    assert host["cgroup_fs"] == ["cgroup2"]
    assert host["detect_version"] == 2
    assert {"cpu", "memory", "pids", "io"} <= set(host["subtree_control"])
    assert guest.step("check_import")["rc"] == 0


def test_limits_are_written_as_runc_converts_them(guest):
    facts = guest.step("check_limits")
    assert facts["proc_cgroup"] == "0::/berth/%s" % facts["cid"]
    assert facts["files"] == {
        "memory.max": str(64 * MIB),
        "memory.swap.max": str(64 * MIB),  # v2 limits swap alone: 2 x 64m total minus the 64m of memory
        "cpu.max": "50000 100000",
        "cpu.weight": "59",
        "pids.max": "50",
        "cgroup.procs": str(facts["pid"]),
    }
    assert cgroups.shares_to_weight(512) == 59
    assert {"cpu", "memory", "pids"} <= set(facts["parent_subtree_control"])


def test_container_sees_its_own_cgroup_as_the_root(guest):
    facts = guest.step("check_cgroup_namespace")
    assert (facts["rc"], facts["out"]) == (0, "0::/\n"), facts


def test_stats_reads_the_v2_files(guest):
    stats = guest.step("check_limits")["stats"]
    assert stats["rc"] == 0, stats
    assert re.search(r"/ 64MiB ", stats["out"]), stats["out"]


def test_default_pids_limit_and_nothing_else(guest):
    assert guest.step("check_default_pids")["files"] == {
        "pids.max": "4096", "memory.max": "max", "memory.swap.max": "max", "cpu.max": "max 100000",
        "cpu.weight": "100"}


@pytest.mark.parametrize("form, swap_max", [("total_48m", str(16 * MIB)), ("unlimited", "max")])
def test_memory_swap_forms(guest, form, swap_max):
    facts = guest.step("check_swap_forms")[form]
    assert (facts["memory.max"], facts["memory.swap.max"]) == (str(32 * MIB), swap_max)


def test_memory_hog_is_oom_killed(guest):
    facts = guest.step("check_oom_run")
    assert facts["rc"] == 137
    assert "survived" not in facts["out"]
    assert (facts["state"]["ExitCode"], facts["state"]["OOMKilled"]) == (137, True)


def test_oom_kill_is_counted_in_memory_events(guest):
    facts = guest.step("check_oom_events")
    events = dict(line.split() for line in facts["files"]["memory.events"].splitlines())
    assert int(events["oom_kill"]) > 0
    assert facts["files"]["memory.max"] == str(16 * MIB)
    assert facts["logs"] == "subshell=137\n"  # the hog died, its container's pid 1 lives on
    assert facts["running"] is True


def test_fork_bomb_stops_at_pids_limit(guest):
    facts = guest.step("check_fork_bomb")
    refused = int(facts["files"]["pids.events"].split()[1])
    assert refused > 0
    assert int(facts["files"]["pids.current"]) <= 30
    assert facts["host_true_rc"] == 0  # the guest still starts processes
    assert facts["ps"]["rc"] == 0 and facts["ps"]["out"] == facts["cid"][:12] + "\n"


def test_cpus_half_holds_a_busy_loop_near_half_a_core(guest):
    facts = guest.step("check_cpus")
    assert facts["cpu.max"] == "50000 100000"
    assert facts["throttled"] > 0
    assert 0.3 < facts["cores"] < 0.7, facts


def test_cgroups_are_removed(guest):
    for name in ("check_limits", "check_default_pids", "check_oom_run", "check_oom_events",
                 "check_fork_bomb", "check_cpus"):
        facts = guest.step(name)
        assert (facts["rm_rc"], facts["cgroup_exists_after_rm"]) == (0, False), name
    for form in ("total_48m", "unlimited"):
        assert guest.step("check_swap_forms")[form]["cgroup_exists_after_rm"] is False
    assert guest.step("check_oom_run")["cgroup_exists_after_exit"] is False
    assert guest.report["leftover_cgroups"] == []


def test_device_allowlist_holds_and_privileged_lifts_it(guest):
    facts = guest.step("check_block_device")
    assert facts["default"]["rc"] == 0, facts
    assert facts["default"]["out"].split() == ["mknod=1", "read=0", "zero=4"]
    assert facts["privileged"]["out"].split() == ["mknod=0", "read=512", "zero=4"]
