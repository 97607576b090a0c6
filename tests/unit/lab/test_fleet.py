"""Pure parts of the lab: request validation, route parsing, collision checks, inventory."""
import ipaddress

import pytest
from berth.lab.fleet import LabError, LabSpec, colliding_routes, parse_proc_net_route, render_inventory

# /proc/net/route of this machine kind with docker0 and a lab bridge up.
PROC_NET_ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
blab-lab\t00FA1CAC\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def test_parse_proc_net_route_skips_the_default_route():
    assert parse_proc_net_route(PROC_NET_ROUTE) == [
        ("eth0", ipaddress.ip_network("192.0.2.0/24")),
        ("docker0", ipaddress.ip_network("172.17.0.0/16")),
        ("blab-lab", ipaddress.ip_network("172.28.250.0/24")),
    ]


def test_collision_ignores_the_labs_own_bridge_only():
    routes = parse_proc_net_route(PROC_NET_ROUTE)
    lab = ipaddress.ip_network("172.28.250.0/24")
    assert colliding_routes(lab, routes, "blab-lab") == []
    assert colliding_routes(lab, routes, "blab-other") == [("blab-lab", lab)]
    assert colliding_routes(ipaddress.ip_network("172.17.5.0/24"), routes, "blab-lab") == [
        ("docker0", ipaddress.ip_network("172.17.0.0/16"))]


@pytest.mark.parametrize("hosts", [0, -1, 51, "0", "three", "2.5", 2.5, True, None, "", " 3x"])
def test_host_count_must_be_a_whole_number_in_range(hosts):
    with pytest.raises(LabError, match="lab_hosts must be a whole number from 1 to 50"):
        LabSpec("lab", hosts, "172.28.250.0/24")


@pytest.mark.parametrize("hosts, count", [(1, 1), ("3", 3), (50, 50)])
def test_host_count_accepts_numbers_and_numeric_strings(hosts, count):
    assert LabSpec("lab", hosts, "172.28.250.0/24").count == count


@pytest.mark.parametrize("subnet, message", [
    ("172.28.250.1/24", "is not a network address in CIDR form"),
    ("not-a-net", "is not a network address in CIDR form"),
    ("8.8.8.0/24", "must be a private IPv4 network"),
    ("fd00:1::/64", "must be a private IPv4 network"),
    ("172.28.250.0/29", "is too small for 3 hosts"),
])
def test_subnet_must_be_a_private_ipv4_network_large_enough(subnet, message):
    with pytest.raises(LabError, match=message):
        LabSpec("lab", 3, subnet)


@pytest.mark.parametrize("name", ["", "Lab", "1lab", "lab-1", "averylongname", "lab name"])
def test_lab_name_is_short_lowercase(name):
    with pytest.raises(LabError, match="lab name"):
        LabSpec(name, 1, "172.28.250.0/24")


def test_mirror_must_be_an_http_url():
    with pytest.raises(LabError, match="lab_mirror 'ftp://x' is not an http"):
        LabSpec("lab", 1, "172.28.250.0/24", mirror="ftp://x")


def test_hosts_have_fixed_names_containers_and_addresses():
    spec = LabSpec("lab", 2, "172.28.250.0/24")
    assert spec.hosts() == [
        {"index": 1, "name": "lab1", "container": "berth-lab1", "volume": "berth-lab1-docker",
         "address": "172.28.250.11"},
        {"index": 2, "name": "lab2", "container": "berth-lab2", "volume": "berth-lab2-docker",
         "address": "172.28.250.12"},
    ]
    assert spec.gateway == "172.28.250.1"
    assert spec.bridge_name == "blab-lab"
    assert len(LabSpec("a" * 10, 1, "172.28.250.0/24").bridge_name) == 15  # the kernel's IFNAMSIZ - 1


def test_image_key_changes_with_the_recipe_inputs():
    base = LabSpec("lab", 1, "172.28.250.0/24")
    assert base.image_key == LabSpec("other", 5, "172.28.251.0/24").image_key
    assert base.image_key != LabSpec("lab", 1, "172.28.250.0/24", mirror="http://mirror.example/debian").image_key
    assert base.image_tarball == "/var/cache/berth/lab/debian-bookworm-%s.tar" % base.image_key


def test_inventory_lists_hosts_in_docker_hosts_with_the_lab_key():
    spec = LabSpec("lab", 2, "172.28.250.0/24", state_dir="/var/lib/berth-lab")
    text = render_inventory(spec, spec.hosts())
    assert "[docker_hosts]\nlab1 ansible_host=172.28.250.11\nlab2 ansible_host=172.28.250.12\n" in text
    assert "ansible_ssh_private_key_file=/var/lib/berth-lab/lab/id_ed25519" in text
    assert "[lab:children]\ndocker_hosts\n" in text


def _proc_sys(tmp_path, instances, watches):
    (tmp_path / "fs" / "inotify").mkdir(parents=True)
    (tmp_path / "fs" / "inotify" / "max_user_instances").write_text("%d\n" % instances)
    (tmp_path / "fs" / "inotify" / "max_user_watches").write_text("%d\n" % watches)
    return tmp_path


def test_inotify_limits_are_raised_to_the_floors_and_never_lowered(tmp_path):
    from berth.lab.fleet import LabFleet
    proc_sys = _proc_sys(tmp_path, 128, 1048576)
    fleet = LabFleet(LabSpec("lab", 1, "172.28.250.0/24"), engine=None)
    fleet.ensure_inotify_limits(proc_sys=str(proc_sys))
    assert fleet.actions == ["raise fs.inotify.max_user_instances from 128 to 1024 "
                             "(systemd in each lab host needs inotify instances)"]
    assert (proc_sys / "fs" / "inotify" / "max_user_instances").read_text() == "1024\n"
    assert (proc_sys / "fs" / "inotify" / "max_user_watches").read_text() == "1048576\n"


def test_inotify_limits_in_check_mode_are_reported_not_written(tmp_path):
    from berth.lab.fleet import LabFleet
    proc_sys = _proc_sys(tmp_path, 128, 8192)
    fleet = LabFleet(LabSpec("lab", 1, "172.28.250.0/24"), engine=None, check_mode=True)
    fleet.ensure_inotify_limits(proc_sys=str(proc_sys))
    assert len(fleet.actions) == 2
    assert (proc_sys / "fs" / "inotify" / "max_user_instances").read_text() == "128\n"


def test_prune_stale_tarballs_keeps_the_current_recipe_and_other_files(tmp_path):
    from berth.lab.fleet import prune_stale_tarballs
    for name in ("debian-bookworm-aaaa.tar", "debian-bookworm-bbbb.tar", "debian-trixie-cccc.tar",
                 "debian-bookworm-dddd.tar.part", "notes.txt"):
        (tmp_path / name).write_text("x")
    keep = str(tmp_path / "debian-bookworm-bbbb.tar")
    removed = prune_stale_tarballs(str(tmp_path), "bookworm", keep)
    assert removed == [str(tmp_path / "debian-bookworm-aaaa.tar")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["debian-bookworm-bbbb.tar", "debian-bookworm-dddd.tar.part",
                                                          "debian-trixie-cccc.tar", "notes.txt"]
