"""A container record -> the plan its pid 1 follows (as runc's specconv turns a config into a spec).

A pure function: everything it needs from the host comes in as arguments
(the container's directory, the overlay links directory, the bounding set),
so the unit tests compare exact plans. init.container_main reads the plan.
"""
import os

from . import caps, spec

ETC_FILES = (("hostname", "/etc/hostname"), ("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf"))


def network_of(record):
    """'bridge', 'host' or 'none' (Docker's "default" is the bridge)."""
    network = record["HostConfig"].get("NetworkMode") or "default"
    return "bridge" if network in ("default", "bridge") else network


def capability_mask(privileged, bounding):
    """Docker's default capability set, or everything the host allows with --privileged."""
    return bounding if privileged else caps.mask_of(spec.DEFAULT_CAPABILITIES) & bounding


def plan_for(record, container_dir, links_dir, bounding):
    """The dict container_main follows: rootfs layers, mounts, capabilities, user, env, argv."""
    host_config = record["HostConfig"]
    config = record["Config"]
    data = record["GraphDriver"]["Data"]
    privileged = bool(host_config.get("Privileged"))
    mounts = [{"source": m["Source"], "destination": m["Destination"], "read_only": not m["RW"]}
              for m in record.get("Mounts", [])]
    mounts += [{"source": os.path.join(container_dir, name), "destination": destination,
                "read_only": False} for name, destination in ETC_FILES]
    return {
        "id": record["Id"],
        "driver": record["GraphDriver"]["Name"],
        "lowers": data.get("LowerDirs", []),
        "upper": data.get("UpperDir"),
        "work": data.get("WorkDir"),
        "rootfs": data["MergedDir"],
        "links_dir": links_dir,
        "network": network_of(record),
        "hostname": config["Hostname"],
        "privileged": privileged,
        "capabilities": capability_mask(privileged, bounding),
        "masked_paths": list(spec.MASKED_PATHS),
        "readonly_paths": list(spec.READONLY_PATHS),
        "mounts": mounts,
        "user": config.get("User") or "0",
        "working_dir": config.get("WorkingDir") or "",
        "env": config.get("Env") or [],
        "argv": [record["Path"]] + list(record["Args"]),
        "tty": config.get("Tty", False),
        "seccomp": not privileged,
    }


def exec_plan(record, argv, env, user, workdir, privileged, tty, bounding):
    """The plan of a process started in a running container (``exec``): the same credential
    steps as the container's own pid 1."""
    config = record["Config"]
    privileged = privileged or bool(record["HostConfig"].get("Privileged"))
    return {
        "argv": list(argv),
        "env": spec.merge_env(config.get("Env") or [], env or []),
        "user": user if user else (config.get("User") or "0"),
        "working_dir": spec.check_working_dir(workdir) if workdir else (config.get("WorkingDir") or ""),
        "hostname": config.get("Hostname", ""),
        "capabilities": capability_mask(privileged, bounding),
        "privileged": privileged,
        "seccomp": not privileged,
        "tty": tty,
    }
