"""``berth``: Docker's verbs over berth's own runtime.

One convention for every verb: a handler ``cmd_VERB(argv, context) -> exit
status`` in one of this package's modules, registered in ``VERBS`` with the
one-line summary ``berth --help`` prints. The module is imported only when its
verb runs, so ``berth images`` loads nothing it does not need and ``berth run``
stays on its short import path (cli/run.py). The modules are split by concern:

* run.py        create, run, attach, exec: the verbs that relay a process's streams
* lifecycle.py  start, stop, restart, kill, rm, wait, rename, container prune
* listing.py    ps, logs, inspect, top, stats
* images.py     pull, push, images, image, tag, rmi, search, import, save, load, login, logout
* system.py     system boot

Errors reach this edge as ``common.errors.BerthError``: the message is printed
and the error's own exit status returned.
"""
import os
import sys

from ..common import paths

# verb -> (module, handler, summary)
VERBS = {
    "attach": ("run", "cmd_attach", "Attach local standard input, output, and error streams to a running container"),
    "container": ("lifecycle", "cmd_container", "Manage containers"),
    "create": ("run", "cmd_create", "Create a new container"),
    "exec": ("run", "cmd_exec", "Run a command in a running container"),
    "image": ("images", "cmd_image", "Manage images"),
    "images": ("images", "cmd_images", "List images"),
    "import": ("images", "cmd_import", "Import the contents from a tarball to create a filesystem image"),
    "inspect": ("listing", "cmd_inspect", "Return low-level information on containers and images"),
    "kill": ("lifecycle", "cmd_kill", "Kill one or more running containers"),
    "load": ("images", "cmd_load", "Load an image from a tar archive or STDIN"),
    "login": ("images", "cmd_login", "Log in to a container registry"),
    "logout": ("images", "cmd_logout", "Log out from a container registry"),
    "logs": ("listing", "cmd_logs", "Fetch the logs of a container"),
    "ps": ("listing", "cmd_ps", "List containers"),
    "pull": ("images", "cmd_pull", "Pull an image from a registry"),
    "push": ("images", "cmd_push", "Push an image to a registry"),
    "rename": ("lifecycle", "cmd_rename", "Rename a container"),
    "restart": ("lifecycle", "cmd_restart", "Restart one or more containers"),
    "rm": ("lifecycle", "cmd_rm", "Remove one or more containers"),
    "rmi": ("images", "cmd_rmi", "Remove one or more images"),
    "run": ("run", "cmd_run", "Create and run a new container"),
    "save": ("images", "cmd_save", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "search": ("images", "cmd_search", "Search Docker Hub (or a registry's catalog) for images"),
    "start": ("lifecycle", "cmd_start", "Start one or more stopped containers"),
    "stats": ("listing", "cmd_stats", "Display a live stream of container(s) resource usage statistics"),
    "stop": ("lifecycle", "cmd_stop", "Stop one or more running containers"),
    "system": ("system", "cmd_system", "Manage berth (boot: start the supervisor, restore containers)"),
    "tag": ("images", "cmd_tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "top": ("listing", "cmd_top", "Display the running processes of a container"),
    "wait": ("lifecycle", "cmd_wait", "Block until one or more containers stop, then print their exit codes"),
}

# Verbs that hold nothing at return which interpreter teardown would still have to flush,
# close or join (no threads, files closed by `with`). For them bin/berth ends the process
# with os._exit after flushing stdout and stderr: the teardown costs a `berth run` 2 ms.
QUICK_EXIT_VERBS = ("run",)

# docker run and create exit 125 when the engine refuses (126 and 127 come from the command).
ENGINE_REFUSAL_125 = ("run", "create")

USAGE = """Usage:  berth [OPTIONS] COMMAND

A self-contained container runtime with Docker's verbs

Options:
      --root string              Root of persistent state (default "%s", env BERTH_ROOT)
      --config string            Location of client config files (default "~/.berth", env BERTH_CONFIG)
      --daemon-config string     Registry and bridge settings file (default "%s")
      --registry-mirror url      Docker Hub mirror, tried in order before Docker Hub (repeatable)
      --insecure-registry host   Registry reached without TLS verification (repeatable)
  -D, --debug                    Show tracebacks on errors
  -h, --help                     Print usage

Commands:
%s
Run 'berth COMMAND --help' for more information on a command.
"""


class Context(object):
    """Global options, plus the stores and the registry client built on first use."""

    def __init__(self, root, config_dir, daemon_config, mirrors, insecure, debug):
        self.root = root
        self.config_dir = config_dir
        self.daemon_config = daemon_config
        self.mirrors = mirrors
        self.insecure = insecure
        self.debug = debug
        self._store = None
        self._client = None
        self._containers = None

    @property
    def store(self):
        """The image store; it refuses to remove an image a container of this root uses."""
        if self._store is None:
            from ..runtime.container import images, lifecycle
            from ..runtime.image.store import Store
            images.register_in_use_checker(lifecycle.images_in_use)
            self._store = Store(self.root)
        return self._store

    @property
    def containers(self):
        """The root's containers (runtime.container.manager.Manager)."""
        if self._containers is None:
            from ..runtime.container.manager import Manager
            self._containers = Manager(self.root)
        return self._containers

    def registry_config(self):
        from ..runtime.image.registry import RegistryConfig
        overrides = {}
        if os.environ.get("BERTH_REGISTRY_TIMEOUT"):
            overrides["timeout"] = float(os.environ["BERTH_REGISTRY_TIMEOUT"])
        if os.environ.get("BERTH_REGISTRY_ATTEMPTS"):
            overrides["attempts"] = int(os.environ["BERTH_REGISTRY_ATTEMPTS"])
        if os.environ.get("BERTH_REGISTRY_BACKOFF"):
            overrides["backoff"] = float(os.environ["BERTH_REGISTRY_BACKOFF"])
        if os.environ.get("BERTH_CERTS_D"):
            overrides["certs_dirs"] = os.environ["BERTH_CERTS_D"].split(":")
        if os.environ.get("BERTH_INDEX_URL"):
            overrides["index_url"] = os.environ["BERTH_INDEX_URL"]
        config = RegistryConfig.from_daemon_json(self.daemon_config, **overrides)
        config.mirrors = [m.rstrip("/") for m in self.mirrors] + config.mirrors
        config.insecure = list(self.insecure) + config.insecure
        return config

    @property
    def client(self):
        if self._client is None:
            from ..runtime.image.auth import CredentialStore
            from ..runtime.image.registry import Client
            self._client = Client(self.registry_config(), CredentialStore(self.config_dir))
        return self._client


def usage():
    width = max(len(verb) for verb in VERBS) + 2
    lines = "".join("  %s%s\n" % (verb.ljust(width), VERBS[verb][2]) for verb in sorted(VERBS))
    return USAGE % (paths.DEFAULT_ROOT, paths.DAEMON_CONFIG, lines)


def parse_globals(argv):
    """Split global options from ``VERB ARGS...`` (options must come before the verb)."""
    root = paths.root()
    config_dir = os.environ.get("BERTH_CONFIG") or None
    daemon_config = paths.daemon_config()
    mirrors, insecure = [], []
    debug = False
    args = list(argv)
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        name, eq, value = opt.partition("=")
        if name in ("-h", "--help"):
            return None
        if name in ("-D", "--debug"):
            debug = True
            continue
        if name not in ("--root", "--config", "--daemon-config", "--registry-mirror", "--insecure-registry"):
            raise SystemExit("unknown flag: %s\nSee 'berth --help'." % name)
        if not eq:
            if not args:
                raise SystemExit("flag needs an argument: %s" % name)
            value = args.pop(0)
        if name == "--root":
            root = value
        elif name == "--config":
            config_dir = value
        elif name == "--daemon-config":
            daemon_config = value
        elif name == "--registry-mirror":
            mirrors.append(value)
        else:
            insecure.append(value)
    return Context(root, config_dir, daemon_config, mirrors, insecure, debug), args


def main(argv=None, quick_exit=False):
    """Run one verb and return its exit status; with ``quick_exit`` (bin/berth only), a verb
    in QUICK_EXIT_VERBS ends the process instead of returning."""
    argv = sys.argv[1:] if argv is None else argv
    parsed = parse_globals(argv)
    if parsed is None or not parsed[1]:
        sys.stdout.write(usage())
        return 0 if parsed is None else 1
    context, args = parsed
    verb, rest = args[0], args[1:]
    entry = VERBS.get(verb)
    if entry is None:
        sys.stderr.write("berth: '%s' is not a berth command.\nSee 'berth --help'\n" % verb)
        return 1
    # __import__ rather than importlib.import_module: importing importlib costs a short
    # `berth run` half a millisecond
    module = __import__("%s.%s" % (__package__, entry[0]), fromlist=[entry[1]])
    from ..common.errors import BerthError
    try:
        status = getattr(module, entry[1])(rest, context) or 0
    except BrokenPipeError:
        return 141
    except BerthError as err:
        if context.debug:
            raise
        sys.stderr.write("%s\n" % getattr(module, "error_text", _error_text)(err))
        if err.exit_code == 1 and verb in ENGINE_REFUSAL_125:
            return 125
        return err.exit_code
    except OSError as err:
        if context.debug:
            raise
        sys.stderr.write("Error: %s\n" % err)
        return 1
    except KeyboardInterrupt:
        return 130
    if quick_exit and verb in QUICK_EXIT_VERBS:
        _exit_now(status)
    return status


def _error_text(err):
    return "Error: %s" % err


def _exit_now(status):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        status = status or 141
    os._exit(status)
