"""The default places of berth's state, configuration and sockets, in one place.

Each can be moved by an environment variable (tests run many stores side by
side) or by a command-line flag where the program has one.
"""
import os

DEFAULT_ROOT = "/var/lib/berth"
DAEMON_CONFIG = "/etc/berth/daemon.json"
BERTHD_SOCKET = "/run/berth/berth.sock"
DOCKER_SOCKET = "/var/run/docker.sock"
CGROUP_PARENT = "berth"


def root(environ=None):
    """The store root: BERTH_ROOT, else /var/lib/berth."""
    return (os.environ if environ is None else environ).get("BERTH_ROOT") or DEFAULT_ROOT


def daemon_config(environ=None):
    """berth's daemon.json (bridge, bip, registry settings): BERTH_DAEMON_CONFIG, else /etc/berth."""
    return (os.environ if environ is None else environ).get("BERTH_DAEMON_CONFIG") or DAEMON_CONFIG


def cgroup_parent(environ=None):
    """The cgroup every container's group is made under: BERTH_CGROUP_PARENT, else berth."""
    return (os.environ if environ is None else environ).get("BERTH_CGROUP_PARENT") or CGROUP_PARENT
