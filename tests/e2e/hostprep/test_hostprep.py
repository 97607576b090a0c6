"""End-to-end: the docker_host role through playbooks/hosts.yml on real lab hosts.

The tests run in file order on one lab of their own (three fresh Debian 12 hosts):
bad inputs and check mode on fresh hosts first, then converge, re-run, check mode on
converged hosts, ports after an iptables restart, and the EL paths that can run on Debian.
"""
import os

import pytest
from support.lab import recap

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "unit", "hostprep", "fixtures")
# Where a run may write: a check-mode run or a failed validation must leave all of them alone.
WATCHED = "/etc /usr /var/lib/dpkg /var/lib/apt /var/cache/apt /var/lib/docker/image /opt"
MARKER = "/run/berth-hostprep-marker"


@pytest.fixture(scope="module")
def hp(lab_factory):
    return lab_factory("hpe", 3, "172.29.252.0/24")


def mark(lab, host):
    lab.ssh(host, "touch %s && sleep 1" % MARKER)


def touched(lab, host, watched=WATCHED):
    out = lab.ssh(host, "find %s -xdev -newer %s 2>/dev/null | sort; true" % (watched, MARKER)).stdout
    return out.split()


def hosts_play(lab, *args, check=True):
    return lab.playbook("playbooks/hosts.yml", *args, check=check)


@pytest.mark.modern
@pytest.mark.parametrize(
    "extra, message",
    [
        ("docker_host_selinux_state=enforced",
         "value of docker_host_selinux_state must be one of: disabled, permissive, enforcing, got: enforced"),
        ("docker_host_base_mirror=htp:/mirror.example", "invalid docker_host input"),
        ("docker_host_kernel_minimum=99.0", "is older than the minimum 99.0"),
        ("docker_host_engine_version=1.2.3",
         "docker.io version 1.2.3 is not available from the configured repositories"),
    ],
    ids=["unknown-selinux-state", "malformed-mirror-url", "kernel-below-minimum", "missing-pinned-version"],
)
def test_bad_input_fails_before_any_change(hp, extra, message):
    mark(hp, "hpe1")
    proc = hosts_play(hp, "--limit", "hpe1", "-e", extra, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout
    assert recap(proc.stdout)["hpe1"]["failed"] == 1
    assert recap(proc.stdout)["hpe1"]["changed"] == 0
    # apt-cache (asked which versions exist) rebuilds its own binary cache: not a change to the host
    assert touched(hp, "hpe1", WATCHED.replace(" /var/cache/apt", "")) == []


@pytest.mark.modern
def test_check_on_fresh_hosts_does_not_fail_and_writes_nothing(hp):
    for host in hp.hosts:
        mark(hp, host)
    proc = hosts_play(hp, "--check", "--diff")
    result = recap(proc.stdout)
    assert sorted(result) == hp.hosts
    for host in hp.hosts:
        assert result[host]["failed"] == 0
        assert result[host]["unreachable"] == 0
        assert result[host]["changed"] > 0, "check mode must predict the installation"
        assert touched(hp, host) == []
    assert hp.ssh("hpe1", "command -v dockerd", check=False).returncode == 1


def test_converge_from_fresh(hp):
    proc = hosts_play(hp)
    result = recap(proc.stdout)
    for host in hp.hosts:
        assert result[host]["failed"] == 0
        assert result[host]["changed"] >= 3
    for host in hp.hosts:
        states = hp.ssh(host, "systemctl is-active docker netfilter-persistent; "
                              "systemctl is-enabled docker netfilter-persistent").stdout.split()
        assert states == ["active", "active", "enabled", "enabled"]
        assert hp.ssh(host, "cat /etc/sysctl.d/90-berth-docker.conf").stdout == (
            "# Managed by berth (berth_sysctl): changes here are overwritten.\n"
            "net.bridge.bridge-nf-call-ip6tables = 1\n"
            "net.bridge.bridge-nf-call-iptables = 1\n"
            "net.ipv4.ip_forward = 1\n")
        assert hp.ssh(host, "docker info --format '{{.Driver}}'").stdout.strip() == "overlay2"


def test_second_run_changes_nothing(hp):
    result = recap(hosts_play(hp).stdout)
    assert {host: (r["changed"], r["failed"]) for host, r in result.items()} == {
        host: (0, 0) for host in hp.hosts}


def test_check_on_converged_hosts_changes_and_touches_nothing(hp):
    for host in hp.hosts:
        mark(hp, host)
    result = recap(hosts_play(hp, "--check", "--diff").stdout)
    assert {host: (r["changed"], r["failed"]) for host, r in result.items()} == {
        host: (0, 0) for host in hp.hosts}
    for host in hp.hosts:
        assert touched(hp, host) == []


def test_published_port_survives_iptables_restart(hp):
    proc = hp.playbook(os.path.join(HERE, "port_after_iptables_restart.yml"), "--limit", "hpe2")
    out = proc.stdout
    assert out.index("RUNNING HANDLER [docker_host : Restart iptables]") < \
        out.index("RUNNING HANDLER [docker_host : Restart docker]")
    assert recap(out)["hpe2"]["failed"] == 0
    nat = hp.ssh("hpe2", "iptables -t nat -S DOCKER").stdout
    assert "--dport 18080 -j DNAT --to-destination" in nat


def test_engine_down_fails_naming_the_host_and_the_role_recovers(hp):
    hp.ssh("hpe1", "systemctl stop docker.socket docker")
    down = hp.adhoc("hpe1", "-m", "berth_engine_info", check=False)
    assert down.returncode != 0
    assert "Docker engine check failed on hpe1: the Docker engine does not answer" in down.stdout
    result = recap(hosts_play(hp, "--limit", "hpe1").stdout)["hpe1"]
    assert (result["changed"], result["failed"]) == (1, 0)  # docker started again, then verified
    assert hp.ssh("hpe1", "systemctl is-active docker").stdout.split() == ["active"]


def test_hostname_and_etc_hosts(hp):
    # The lab names each host already; giving that name runs the hostname step and adds the
    # /etc/hosts line. A different name cannot be tried here: the lab's engine bind-mounts
    # /etc/hostname, so hostnamectl fails with "Device or resource busy" on a lab host.
    first = recap(hosts_play(hp, "--limit", "hpe2", "-e", "docker_host_hostname=hpe2").stdout)
    assert (first["hpe2"]["changed"], first["hpe2"]["failed"]) == (1, 0)
    assert hp.ssh("hpe2", "grep '^127.0.1.1' /etc/hosts").stdout == "127.0.1.1 hpe2\n"
    again = recap(hosts_play(hp, "--limit", "hpe2", "-e", "docker_host_hostname=hpe2").stdout)
    assert (again["hpe2"]["changed"], again["hpe2"]["failed"]) == (0, 0)


def test_selinux_el7_config_on_a_kernel_without_selinux(hp):
    with open(os.path.join(FIXTURES, "selinux-config-el7")) as handle:
        el7 = handle.read()
    hp.ssh("hpe1", "mkdir -p /etc/selinux && cat > /etc/selinux/config <<'EOF'\n%sEOF" % el7)
    first = hp.adhoc("hpe1", "-m", "berth_selinux", "-a", "state=disabled", "--diff")
    assert "-SELINUX=enforcing\n+SELINUX=disabled" in first.stdout
    assert "CHANGED" in first.stdout
    config = hp.ssh("hpe1", "cat /etc/selinux/config").stdout
    assert config == el7.replace("SELINUX=enforcing", "SELINUX=disabled")
    again = hp.adhoc("hpe1", "-m", "berth_selinux", "-a", "state=disabled")
    assert '"changed": false' in again.stdout
    assert '"reboot_required": false' in again.stdout
    # enforcing cannot start at runtime on a kernel without SELinux: written, and a reboot is due
    check = hp.adhoc("hpe1", "-m", "berth_selinux", "-a", "state=enforcing policy=targeted", "--check")
    assert '"reboot_required": true' in check.stdout
    assert hp.ssh("hpe1", "grep ^SELINUX= /etc/selinux/config").stdout == "SELINUX=disabled\n"
    # the converged role keeps the disabled config file as it is
    result = recap(hosts_play(hp, "--limit", "hpe1").stdout)
    assert (result["hpe1"]["changed"], result["hpe1"]["failed"]) == (0, 0)


def test_el_package_sources_written_for_real(hp):
    play = os.path.join(HERE, "el_package_sources.yml")
    hp.ssh("hpe3", "mkdir -p /etc/yum.repos.d")
    check = recap(hp.playbook(play, "-e", "target=hpe3", "--check").stdout)["hpe3"]
    assert (check["changed"], check["failed"]) == (2, 0)
    assert hp.ssh("hpe3", "ls -A /etc/yum.repos.d").stdout == ""
    first = recap(hp.playbook(play, "-e", "target=hpe3").stdout)["hpe3"]
    assert (first["changed"], first["failed"]) == (2, 0)  # CentOS-Base (3 sections), docker-ce
    base = hp.ssh("hpe3", "cat /etc/yum.repos.d/CentOS-Base.repo").stdout
    assert "[base]\n" in base
    assert "baseurl = https://vault.centos.org/7.9.2009/os/$basearch/\n" in base
    assert "baseurl = https://vault.centos.org/7.9.2009/updates/$basearch/\n" in base
    assert "baseurl = https://vault.centos.org/7.9.2009/extras/$basearch/\n" in base
    docker = hp.ssh("hpe3", "cat /etc/yum.repos.d/docker-ce.repo").stdout
    assert "baseurl = https://download.docker.com/linux/centos/7/$basearch/stable\n" in docker
    assert "gpgkey = https://download.docker.com/linux/centos/gpg\n" in docker
    again = recap(hp.playbook(play, "-e", "target=hpe3").stdout)["hpe3"]
    assert (again["changed"], again["failed"]) == (0, 0)



def fleet_inventory(lab, tmp_path, extra_lines=(), host_vars=None):
    """The lab's inventory with ``extra_lines`` added to docker_hosts and ``host_vars`` on one host."""
    with open(lab.inventory) as handle:
        text = handle.read()
    text = text.replace("[docker_hosts]\n", "[docker_hosts]\n" + "".join(line + "\n" for line in extra_lines), 1)
    if host_vars:
        host, assignment = host_vars
        text = text.replace("%s ansible_host=" % host, "%s %s ansible_host=" % (host, assignment), 1)
    path = tmp_path / "fleet.ini"
    path.write_text(text)
    return str(path)


def test_failed_canary_stops_the_rollout(hp, tmp_path):
    # the first batch is one host; its failure stops the play before the others are touched
    inventory = fleet_inventory(hp, tmp_path, host_vars=("hpe1", "docker_host_kernel_minimum=99.0"))
    proc = hp.playbook("-i", inventory, "playbooks/hosts.yml", check=False)
    assert proc.returncode != 0
    assert "hpe1 cannot be made a Docker host" in proc.stdout
    prepare = proc.stdout.split("PLAY [Prepare the Docker hosts]", 1)[1]
    assert "[hpe1]" in prepare
    assert "[hpe2]" not in prepare
    assert "[hpe3]" not in prepare


def test_unreachable_host_does_not_stop_the_others(hp, tmp_path):
    unreachable = "hpe9 ansible_host=%s ansible_ssh_common_args='-o ConnectTimeout=2'" % hp.address(9)
    inventory = fleet_inventory(hp, tmp_path, [unreachable])
    proc = hp.playbook("-i", inventory, "playbooks/hosts.yml", check=False)
    result = recap(proc.stdout)
    assert result["hpe9"]["unreachable"] == 1
    assert {h: (result[h]["changed"], result[h]["failed"]) for h in hp.hosts} == {h: (0, 0) for h in hp.hosts}
    assert proc.stdout.count("TASK [docker_host : Read docker version and docker info]") == 2  # two batches
    # asked to require every host, the fleet play stops before preparing any
    strict = hp.playbook("-i", inventory, "playbooks/hosts.yml", "-e", "docker_hosts_require_all_reachable=true",
                         check=False)
    assert strict.returncode != 0
    assert "unreachable Docker hosts: hpe9" in strict.stdout
    assert "Read the preflight facts" not in strict.stdout


def test_firewalld_is_stopped_and_disabled(hp):
    # Debian packages firewalld too, so the runbook's "stop and disable" runs for real. Last test:
    # firewalld's start also flushes the lab's own DNS forwarding rules inside hpe3.
    hp.ssh("hpe3", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q firewalld >/dev/null")
    assert hp.ssh("hpe3", "systemctl is-active firewalld; systemctl is-enabled firewalld").stdout.split() == [
        "active", "enabled"]
    # firewalld.service conflicts with netfilter-persistent.service: starting it stopped that one
    assert hp.ssh("hpe3", "systemctl is-active netfilter-persistent", check=False).stdout.split() == ["inactive"]
    first = recap(hosts_play(hp, "--limit", "hpe3").stdout)["hpe3"]
    # firewalld stopped and disabled, the iptables service started again, docker restarted
    assert (first["changed"], first["failed"]) == (3, 0)
    assert hp.ssh("hpe3", "systemctl is-active firewalld netfilter-persistent; systemctl is-enabled firewalld",
                  check=False).stdout.split() == ["inactive", "active", "disabled"]
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in hp.ssh("hpe3", "iptables -t nat -S").stdout
    again = recap(hosts_play(hp, "--limit", "hpe3").stdout)["hpe3"]
    assert (again["changed"], again["failed"]) == (0, 0)
