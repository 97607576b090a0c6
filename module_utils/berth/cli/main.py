"""``berth``: Docker's verbs over berth's own runtime.

The dispatcher knows verbs only by name.  ``VERBS`` maps each verb to the
handler module (in this package) that implements it; the module is imported
only when its verb runs, so ``berth images`` loads nothing it does not need.
A handler module exposes ``run(verb, argv, context) -> exit status``.

To add verbs, add them to ``VERBS`` here and nothing else.  A verb that
concerns both halves (``inspect``, ``rmi``) goes to ``containers``, which
hands image names on to ``images``.
"""
import os
import sys

VERBS = {
    "pull": "images",
    "push": "images",
    "images": "images",
    "image": "images",
    "tag": "images",
    "rmi": "containers",  # registers the containers' in-use checker, then the image verb
    "search": "images",
    "import": "images",
    "save": "images",
    "load": "images",
    "login": "images",
    "logout": "images",
    "inspect": "containers",  # containers first, then images, as docker inspect
    "create": "containers",
    "run": "containers",
    "start": "containers",
    "stop": "containers",
    "restart": "containers",
    "kill": "containers",
    "rm": "containers",
    "wait": "containers",
    "exec": "containers",
    "attach": "containers",
    "logs": "containers",
    "ps": "containers",
    "top": "containers",
    "stats": "containers",
    "rename": "containers",
    "container": "containers",
    "system": "system",
}

# Verbs that hold nothing at return which interpreter teardown would still have to flush,
# close or join (no threads, files closed by `with`). For them bin/berth ends the process
# with os._exit after flushing stdout and stderr: the teardown costs a `berth run` 2 ms.
QUICK_EXIT_VERBS = ("run",)

DEFAULT_ROOT = "/var/lib/berth"
DEFAULT_DAEMON_CONFIG = "/etc/berth/daemon.json"

USAGE = """Usage:  berth [OPTIONS] COMMAND

A self-contained container runtime with Docker's verbs

Options:
      --root string              Root of persistent state (default "%s", env BERTH_ROOT)
      --config string            Location of client config files (default "~/.berth", env BERTH_CONFIG)
      --daemon-config string     Registry settings file (default "%s")
      --registry-mirror url      Docker Hub mirror, tried in order before Docker Hub (repeatable)
      --insecure-registry host   Registry reached without TLS verification (repeatable)
  -D, --debug                    Show tracebacks on errors
  -h, --help                     Print usage

Commands:
%s
Run 'berth COMMAND --help' for more information on a command.
"""


class Context(object):
    """Global options, plus the store and registry client built on first use."""

    def __init__(self, root, config_dir, daemon_config, mirrors, insecure, debug):
        self.root = root
        self.config_dir = config_dir
        self.daemon_config = daemon_config
        self.mirrors = mirrors
        self.insecure = insecure
        self.debug = debug
        self._store = None
        self._client = None

    @property
    def store(self):
        if self._store is None:
            from ..runtime.image.store import Store
            self._store = Store(self.root)
        return self._store

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


def _usage():
    verbs = sorted(VERBS)
    return USAGE % (DEFAULT_ROOT, DEFAULT_DAEMON_CONFIG, "".join("  %s\n" % v for v in verbs))


def parse_globals(argv):
    """Split global options from ``VERB ARGS...`` (options must come before the verb)."""
    root = os.environ.get("BERTH_ROOT", DEFAULT_ROOT)
    config_dir = os.environ.get("BERTH_CONFIG") or None
    daemon_config = os.environ.get("BERTH_DAEMON_CONFIG", DEFAULT_DAEMON_CONFIG)
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
        sys.stdout.write(_usage())
        return 0 if parsed is None else 1
    context, args = parsed
    verb, rest = args[0], args[1:]
    module_name = VERBS.get(verb)
    if module_name is None:
        sys.stderr.write("berth: '%s' is not a berth command.\nSee 'berth --help'\n" % verb)
        return 1
    # __import__ rather than importlib.import_module: importing importlib costs a short
    # `berth run` half a millisecond
    module = __import__("%s.%s" % (__package__, module_name), fromlist=["run"])
    from ..runtime.image.errors import BerthError
    try:
        status = module.run(verb, rest, context) or 0
    except BrokenPipeError:
        return 141
    except (BerthError, OSError) as err:
        if context.debug:
            raise
        sys.stderr.write("Error: %s\n" % err)
        return 1
    except KeyboardInterrupt:
        return 130
    if quick_exit and verb in QUICK_EXIT_VERBS:
        _exit_now(status)
    return status


def _exit_now(status):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        status = status or 141
    os._exit(status)
