"""Reading the engine: ``docker version`` and ``docker info`` as JSON."""
import json

from .errors import HostprepError

VERSION_ARGV = ["docker", "version", "--format", "{{json .}}"]
INFO_ARGV = ["docker", "info", "--format", "{{json .}}"]


def parse_docker_json(text, what):
    try:
        return json.loads(text)
    except ValueError:
        raise HostprepError("docker %s printed no JSON: %r" % (what, text[:200]))


def summarize(version, info):
    """The stable keys berth reports about a running engine."""
    server = version.get("Server") or {}
    client = version.get("Client") or {}
    return {
        "server_version": server.get("Version"),
        "api_version": server.get("ApiVersion"),
        "client_version": client.get("Version"),
        "storage_driver": info.get("Driver"),
        "docker_root_dir": info.get("DockerRootDir"),
        "cgroup_driver": info.get("CgroupDriver"),
        "cgroup_version": info.get("CgroupVersion"),
        "security_options": info.get("SecurityOptions") or [],
        "warnings": info.get("Warnings") or [],
        "containers_running": info.get("ContainersRunning"),
        "server_errors": info.get("ServerErrors") or [],
    }


def read_engine(run):
    """``(version, info)`` dicts; HostprepError when the engine does not answer."""
    rc, out, err = run(VERSION_ARGV)
    if rc == 127:
        raise HostprepError("the docker client is not installed (docker: command not found)")
    version = parse_docker_json(out, "version") if out.strip() else {}
    if rc != 0 or not version.get("Server"):
        raise HostprepError("the Docker engine does not answer: %s" % (err.strip() or "rc=%d" % rc))
    rc, out, err = run(INFO_ARGV)
    if rc != 0:
        raise HostprepError("docker info failed: %s" % (err.strip() or "rc=%d" % rc))
    return version, parse_docker_json(out, "info")
