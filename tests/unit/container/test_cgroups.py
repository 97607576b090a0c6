"""Conversion of Docker's resource flags, once, for both cgroup versions."""
from berth.runtime.container import cgroups

MOUNTS = """cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw 0 0
"""


def test_convert_resources_like_runc():
    assert cgroups.convert_resources({"Memory": 64 << 20, "MemorySwap": 0, "NanoCpus": 500000000,
                                      "CpuShares": 512, "PidsLimit": 100}) == {
        "memory": 64 << 20, "memory_swap": 128 << 20, "cpu_period": 100000, "cpu_quota": 50000,
        "cpu_shares": 512, "pids": 100}
    assert cgroups.convert_resources({"Memory": 10 << 20, "MemorySwap": -1, "PidsLimit": -1}) == {
        "memory": 10 << 20, "memory_swap": -1, "pids": -1}
    assert cgroups.convert_resources({}) == {}


def test_v2_values():
    values = cgroups.values_v2({"memory": 100, "memory_swap": 300, "cpu_quota": 50000,
                                "cpu_period": 100000, "cpu_shares": 1024, "pids": -1})
    assert values == {"memory.max": 100, "memory.swap.max": 200, "cpu.max": "50000 100000",
                      "cpu.weight": 100, "pids.max": "max"}
    assert cgroups.values_v2({"memory": 100, "memory_swap": -1}) == {
        "memory.max": 100, "memory.swap.max": "max"}


def test_shares_to_weight_quadratic_fit():
    assert cgroups.shares_to_weight(2) == 1
    assert cgroups.shares_to_weight(1024) == 100
    assert cgroups.shares_to_weight(262144) == 10000
    assert cgroups.shares_to_weight(512) == 59  # ceil(10 ** ((81 + 1125) / 612 - 7 / 34))


def test_mounted_v1_controllers_skips_named_and_v2():
    assert cgroups.mounted_v1_controllers(MOUNTS) == {
        "memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu,cpuacct",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct"}


def test_v1_paths_only_for_mounted_controllers():
    group = cgroups.CgroupV1("abc", parent="berth", mounts=cgroups.mounted_v1_controllers(MOUNTS))
    assert group.paths == {"memory": "/sys/fs/cgroup/memory/berth/abc",
                           "cpu": "/sys/fs/cgroup/cpu,cpuacct/berth/abc",
                           "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/berth/abc"}


def test_v2_stats_keys_match_v1(tmp_path):
    """The supervisor's OOMKilled and `berth stats` read these keys on either version."""
    for name, text in (("memory.current", "4096\n"), ("memory.max", "16777216\n"), ("pids.current", "3\n"),
                       ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"),
                       ("memory.events", "low 0\nhigh 0\nmax 73\noom 2\noom_kill 1\noom_group_kill 0\n")):
        (tmp_path / name).write_text(text)
    group = cgroups.CgroupV2("c1", parent="p", root=str(tmp_path))
    group.path = str(tmp_path)
    assert group.stats() == {"memory": 4096, "memory_limit": 16 << 20, "pids": 3, "cpu_ns": 1500000,
                             "oom_kills": 1}
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "memory.events").unlink()
    assert "memory_limit" not in group.stats() and "oom_kills" not in group.stats()


def test_device_program_for_one_rule():
    """r2 = type, r3 = access, r4 = major, r5 = minor; a failed test jumps past the rule's allow."""
    loads = [(0x61, 2, 1, 0, 0), (0x57, 2, 0, 0, 0xffff), (0x61, 3, 1, 0, 0), (0x77, 3, 0, 0, 16),
             (0x61, 4, 1, 4, 0), (0x61, 5, 1, 8, 0)]
    deny = [(0xb7, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)]
    assert cgroups.device_program(["c 1:3 rwm"]) == loads + [
        (0x55, 2, 0, 7, 2), (0xbf, 1, 3, 0, 0), (0x57, 1, 0, 0, 7), (0x5d, 1, 3, 4, 0),
        (0x55, 4, 0, 3, 1), (0x55, 5, 0, 2, 3), (0xb7, 0, 0, 0, 1), (0x95, 0, 0, 0, 0)] + deny
    # a wildcard minor drops its test, and read-only access is 2
    assert cgroups.device_program(["c 136:* r"]) == loads + [
        (0x55, 2, 0, 6, 2), (0xbf, 1, 3, 0, 0), (0x57, 1, 0, 0, 2), (0x5d, 1, 3, 3, 0),
        (0x55, 4, 0, 2, 136), (0xb7, 0, 0, 0, 1), (0x95, 0, 0, 0, 0)] + deny
    assert cgroups.device_program([]) == loads + deny


def test_v1_create_discards_what_the_host_cannot_hold_and_says_so(tmp_path):
    # a host with memory mounted but no swap accounting, and no cpu or pids hierarchy
    memory = tmp_path / "memory"
    memory.mkdir()
    group = cgroups.CgroupV1("c1", parent="berth", mounts={"memory": str(memory)})
    (memory / "berth" / "c1").mkdir(parents=True)
    (memory / "berth" / "c1" / "memory.limit_in_bytes").write_text("")
    resources = cgroups.convert_resources({"Memory": 64 << 20, "NanoCpus": 500000000, "PidsLimit": 100})
    discarded = group.create(resources, privileged=True)
    assert discarded == ["memory_swap", "cpu_period", "cpu_quota", "pids"]
    assert (memory / "berth" / "c1" / "memory.limit_in_bytes").read_text() == str(64 << 20)
    assert cgroups.discarded_warnings(discarded) == [
        "Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
        "Memory limited without swap.",
        "Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. CPU period/quota discarded.",
        "Your kernel does not support pids limit capabilities or the cgroup is not mounted. PIDs limit discarded.",
    ]


def test_nothing_discarded_means_no_warning():
    assert cgroups.discarded_warnings([]) == []
