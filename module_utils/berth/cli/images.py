"""The image verbs: pull, push, images, image, tag, rmi, search, import, save, load,
login, logout, and ``image inspect`` (``inspect`` looks at containers first: listing.py).

Flags and output follow Docker 20.10's CLI.
"""
import os
import sys
import threading
import time

from .flags import parser as _parser
from .format import human_size, print_documents, print_formatted, since


def cmd_image(argv, context):
    """``berth image VERB``: the image verbs under the management command."""
    handler = IMAGE_SUBCOMMANDS.get(argv[0]) if argv else None
    if handler is None:
        sys.stderr.write("Usage:  berth image COMMAND\n\nManage images\n\nCommands:\n%s"
                         % "".join("  %s\n" % c for c in sorted(IMAGE_SUBCOMMANDS)))
        return 0 if not argv else 1
    return handler(argv[1:], context)


def _out(line=""):
    sys.stdout.write(line + "\n")


# -- pull ------------------------------------------------------------------

class _TerminalReporter(object):
    """One line per layer, redrawn in place (Docker's progress display)."""

    def __init__(self, stream):
        self.stream = stream
        self.lines = []
        self.last = {}
        self.lock = threading.Lock()

    def message(self, text):
        with self.lock:
            self.stream.write(text + "\n")
            self.lines = []
            self.stream.flush()

    def layer(self, sid, status, current=None, total=None):
        now = time.time()
        if status == "Downloading" and now - self.last.get(sid, 0) < 0.1 and current != total:
            return
        self.last[sid] = now
        text = "%s: %s" % (sid, status)
        if current is not None and total:
            width = 50
            done = int(width * current / float(total))
            bar = "=" * max(done - 1, 0) + (">" if done < width else "=")
            text += " [%s%s] %s/%s" % (bar, " " * (width - len(bar)), human_size(current), human_size(total))
        with self.lock:
            if sid not in self.lines:
                self.lines.append(sid)
                self.stream.write(text + "\n")
            else:
                up = len(self.lines) - self.lines.index(sid)
                self.stream.write("\x1b[%dA\r\x1b[2K%s\x1b[%dB\r" % (up, text, up))
            self.stream.flush()


class _PlainReporter(object):
    """Status changes only, one line each (no progress bars) when not on a terminal."""

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()
        self.status = {}

    def message(self, text):
        with self.lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def layer(self, sid, status, current=None, total=None):
        if status == "Downloading":
            return
        with self.lock:
            if self.status.get(sid) == status:
                return
            self.status[sid] = status
            self.stream.write("%s: %s\n" % (sid, status))
            self.stream.flush()


def cmd_pull(argv, context):
    parser = _parser("pull", "pull [OPTIONS] NAME[:TAG|@DIGEST]", "Pull an image from a registry")
    parser.add_argument("-a", "--all-tags", action="store_true", help="Download all tagged images in the repository")
    parser.add_argument("--platform", help="Set platform if server is multi-platform capable")
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    parser.add_argument("name")
    args = parser.parse_args(argv)
    from ..runtime.image import reference
    from ..runtime.image.hostarch import parse_platform
    from ..runtime.image.pull import Puller, Reporter
    ref = reference.parse(args.name)
    if args.all_tags and (ref.tag or ref.digest):
        sys.stderr.write("Error: tag can't be used with --all-tags/-a\n")
        return 1
    stream = sys.stdout
    if args.quiet:
        reporter = Reporter()
    elif stream.isatty():
        reporter = _TerminalReporter(stream)
    else:
        reporter = _PlainReporter(stream)
    platform = parse_platform(args.platform) if args.platform else None
    puller = Puller(context.store, context.client, reporter, platform)
    if args.all_tags:
        from ..runtime.image.registry import Repository
        refs = [ref.with_tag(tag) for tag in sorted(Repository(context.client, ref).tags())]
    else:
        if ref.tag is None and ref.digest is None:
            reporter.message("Using default tag: latest")
        refs = [ref.with_default_tag()]
    downloaded_any = False
    for one in refs:
        reporter.message("%s: Pulling from %s" % (one.tag or one.digest, one.path))
        record, downloaded = puller.pull(one)
        downloaded_any |= downloaded
        if not downloaded:
            digest = [d for d in record.repo_digests if d.split("@")[0] == one.familiar_name]
            if digest:
                reporter.message("Digest: %s" % digest[0].split("@", 1)[1])
    name = refs[0].familiar() if not args.all_tags else ref.familiar_name
    if downloaded_any:
        reporter.message("Status: Downloaded newer image for %s" % name)
    else:
        reporter.message("Status: Image is up to date for %s" % name)
    _out(str(refs[0]) if not args.all_tags else ref.name)
    return 0


# -- push ------------------------------------------------------------------

def cmd_push(argv, context):
    parser = _parser("push", "push [OPTIONS] NAME[:TAG]", "Push an image to a registry")
    parser.add_argument("-a", "--all-tags", action="store_true", help="Push all tags of the repository")
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    parser.add_argument("name")
    args = parser.parse_args(argv)
    from ..runtime.image import reference
    from ..runtime.image.push import push
    ref = reference.parse(args.name)
    say = (lambda line: None) if args.quiet else _out
    if args.all_tags:
        names = sorted(t for image in context.store.images() for t in image.repo_tags
                       if reference.parse(t).name == ref.name)
        if not names:
            raise _not_found(args.name)
    else:
        names = [str(ref.with_default_tag())]
    for name in names:
        push(context.store, context.client, name, say)
    if args.quiet:
        _out(str(ref))
    return 0


def _not_found(name):
    from ..runtime.image.errors import ImageNotFound
    return ImageNotFound("No such image: %s" % name)


# -- images ----------------------------------------------------------------

IMAGE_HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
                 "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
                 "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                 "VirtualSize": "VIRTUAL SIZE"}


def _glob_regex(pattern):
    import re
    out = []
    for char in pattern:
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
    return re.compile("^" + "".join(out) + "$")


def _parse_filters(values, allowed):
    filters = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep:
            raise SystemExit("Error: bad format of filter (expected name=value)")
        if key not in allowed:
            raise SystemExit("Error: invalid filter '%s'" % key)
        filters.setdefault(key, []).append(val)
    return filters


def _image_rows(images, filters, digests_wanted):
    """Docker's per-image rows: one per repo:tag, ``<none>`` for dangling images."""
    rows = []
    now = time.time()
    patterns = [_glob_regex(p) for p in filters.get("reference", [])]
    dangling = filters.get("dangling")
    for image in images:
        is_dangling = not image.repo_tags
        if dangling:
            want = dangling[-1].lower() in ("true", "1")
            if want != is_dangling:
                continue
        entries = []
        if not image.repo_tags and not image.repo_digests:
            entries.append(("<none>", "<none>", "<none>"))
        else:
            digests_by_repo = {}
            for ref in image.repo_digests:
                repo, _, digest = ref.partition("@")
                digests_by_repo.setdefault(repo, []).append(digest)
            repos_with_tags = set()
            for ref in image.repo_tags:
                repo, _, tag = ref.rpartition(":")
                repos_with_tags.add(repo)
                digest = (digests_by_repo.get(repo) or ["<none>"])[0]
                entries.append((repo, tag, digest))
            for repo, digests in sorted(digests_by_repo.items()):
                if repo not in repos_with_tags and (digests_wanted or is_dangling):
                    for digest in digests:
                        entries.append((repo, "<none>", digest))
            if not entries:
                entries.append(("<none>", "<none>", "<none>"))
        for repo, tag, digest in entries:
            if patterns:
                names = [repo + ":" + tag, repo] if tag != "<none>" else [repo]
                if repo == "<none>" or not any(p.match(n) for p in patterns for n in names):
                    continue
            rows.append({"Repository": repo, "Tag": tag, "Digest": digest, "ID": image.id,
                         "CreatedSince": since(image.created, now), "CreatedAt": image.created,
                         "Size": human_size(image.size), "VirtualSize": human_size(image.size),
                         "Containers": "N/A", "SharedSize": "N/A", "UniqueSize": "N/A"})
    return rows


def cmd_images(argv, context):
    parser = _parser("images", "images [OPTIONS] [REPOSITORY[:TAG]]", "List images")
    parser.add_argument("-a", "--all", action="store_true", help="Show all images (berth keeps no intermediates)")
    parser.add_argument("--digests", action="store_true", help="Show digests")
    parser.add_argument("-f", "--filter", action="append", help="Filter output based on conditions provided")
    parser.add_argument("--format", help="Pretty-print images using a Go template")
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    parser.add_argument("repository", nargs="?")
    args = parser.parse_args(argv)
    filters = _parse_filters(args.filter, ("dangling", "reference", "label", "before", "since"))
    if args.repository:
        filters.setdefault("reference", []).append(args.repository)
    images = context.store.images()
    for key in ("before", "since"):
        if key in filters:
            pivot = context.store.resolve(filters[key][-1])
            if key == "before":
                images = [i for i in images if i.created < pivot.created]
            else:
                images = [i for i in images if i.created > pivot.created]
    if "label" in filters:
        images = [i for i in images if _labels_match(i.config, filters["label"])]
    rows = _image_rows(images, filters, args.digests)
    for row in rows:
        if not args.no_trunc:
            row["ID"] = row["ID"][7:19]
    if args.quiet:
        fmt = "{{.ID}}"
    elif args.format:
        fmt = args.format
    elif args.digests:
        fmt = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    else:
        fmt = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    print_formatted(fmt, rows, IMAGE_HEADERS)
    return 0


def _labels_match(config, wanted):
    labels = (config.get("config") or {}).get("Labels") or {}
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True




# -- inspect ---------------------------------------------------------------

def inspect_document(store, image):
    """The Engine API's ``GET /images/{name}/json`` shape (API 1.41)."""
    config = image.config
    dirs = store.layer_dirs(image)
    index = store._load_index()
    tagged = index.get("tagged_at", {})
    last_tag = max([tagged.get(_qualified(t), 0) for t in image.repo_tags] or [0])
    comment = ""
    for entry in config.get("history") or []:
        comment = entry.get("comment", comment)
    doc = {
        "Id": image.id,
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Parent": "",
        "Comment": config.get("comment", comment if len(config.get("history") or []) == 1 else ""),
        "Created": image.created,
        "Container": config.get("container", ""),
        "ContainerConfig": config.get("container_config") or {},
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": config.get("config") or {},
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(reversed(dirs))}},
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": _rfc3339(last_tag) if last_tag else "0001-01-01T00:00:00Z"},
    }
    if config.get("variant"):
        doc["Variant"] = config["variant"]
    return doc


def _qualified(familiar):
    from ..runtime.image import reference
    return str(reference.parse(familiar))


def _rfc3339(stamp):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + ".%09dZ" % int((stamp % 1) * 1e9)


def cmd_image_inspect(argv, context):
    parser = _parser("image inspect", "image inspect [OPTIONS] IMAGE [IMAGE...]",
                     "Display detailed information on one or more images")
    parser.add_argument("-f", "--format", help="Format the output using the given Go template")
    parser.add_argument("--type", help="Return JSON for specified type (image)")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    from ..runtime.image.errors import ImageNotFound
    docs = []
    status = 0
    for name in args.names:
        try:
            docs.append(inspect_document(context.store, context.store.resolve(name)))
        except ImageNotFound:
            sys.stderr.write("Error: No such image: %s\n" % name)
            status = 1
    print_documents(docs, args.format)
    return status


# -- tag / rmi ---------------------------------------------------------------

def cmd_tag(argv, context):
    parser = _parser("tag", "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
                     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    parser.add_argument("source")
    parser.add_argument("target")
    args = parser.parse_args(argv)
    context.store.tag(args.source, args.target)
    return 0


def cmd_rmi(argv, context):
    parser = _parser("rmi", "rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images")
    parser.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    parser.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    from ..runtime.image.errors import BerthError
    status = 0
    for name in args.names:
        try:
            events = context.store.remove(name, force=args.force, prune=not args.no_prune)
        except BerthError as err:
            sys.stderr.write("Error: %s\n" % err)
            status = 1
            continue
        for kind, what in events:
            _out("%s: %s" % (kind, what))
    return status


# -- search ----------------------------------------------------------------

def cmd_search(argv, context):
    parser = _parser("search", "search [OPTIONS] TERM", "Search Docker Hub (or a registry's catalog) for images")
    parser.add_argument("-f", "--filter", action="append", help="Filter output based on conditions provided")
    parser.add_argument("--format", help="Pretty-print search using a Go template")
    parser.add_argument("--limit", type=int, default=25, help="Max number of search results (default 25)")
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument("--automated", action="store_true", help="Only show automated builds (deprecated)")
    parser.add_argument("-s", "--stars", type=int, default=0, help="Only displays with at least x stars (deprecated)")
    parser.add_argument("term")
    args = parser.parse_args(argv)
    if args.limit < 1 or args.limit > 100:
        sys.stderr.write("Error: Limit %d is outside the range of [1, 100]\n" % args.limit)
        return 1
    filters = _parse_filters(args.filter, ("stars", "is-official", "is-automated"))
    from ..runtime.image import registry
    from ..runtime.image.reference import split_domain
    term = args.term
    domain = None
    first = term.split("/", 1)[0]
    if "/" in term and ("." in first or ":" in first or first == "localhost"):
        domain, term = split_domain(term)[0], term.split("/", 1)[1]
    if domain and domain != registry.HUB_DOMAIN:
        names = registry.catalog(context.client, domain)
        results = [{"name": "%s/%s" % (domain, n), "description": "", "star_count": 0,
                    "is_official": False, "is_automated": False} for n in names if term in n]
        results = results[:args.limit]
    else:
        results = registry.hub_search(context.client, term, args.limit)
    min_stars = max([args.stars] + [int(v) for v in filters.get("stars", [])])
    rows = []
    for item in results:
        stars = int(item.get("star_count") or 0)
        official = bool(item.get("is_official"))
        automated = bool(item.get("is_automated"))
        if stars < min_stars:
            continue
        if "is-official" in filters and official != (filters["is-official"][-1] == "true"):
            continue
        if "is-automated" in filters and automated != (filters["is-automated"][-1] == "true"):
            continue
        if args.automated and not automated:
            continue
        description = (item.get("description") or "").replace("\n", " ")
        if not args.no_trunc and len(description) > 45:
            description = description[:44] + "\u2026"
        rows.append({"Name": item.get("name", ""), "Description": description, "StarCount": str(stars),
                     "IsOfficial": "[OK]" if official else "", "IsAutomated": "[OK]" if automated else ""})
    fmt = args.format or "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}"
    print_formatted(fmt, rows, {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
                                 "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"})
    return 0


# -- import / save / load --------------------------------------------------

def cmd_import(argv, context):
    parser = _parser("import", "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                     "Import the contents from a tarball to create a filesystem image")
    parser.add_argument("-c", "--change", action="append", default=[], help="Apply Dockerfile instruction")
    parser.add_argument("-m", "--message", help="Set commit message for imported image")
    parser.add_argument("--platform", help="Set platform if server is multi-platform capable")
    parser.add_argument("source")
    parser.add_argument("repository", nargs="?")
    args = parser.parse_args(argv)
    from ..runtime.image.archive import import_tarball
    if args.source == "-":
        record = import_tarball(context.store, sys.stdin.buffer, args.repository, args.change, args.message)
    elif "://" in args.source:
        import urllib.request
        with urllib.request.urlopen(args.source) as handle:
            record = import_tarball(context.store, handle, args.repository, args.change, args.message,
                                    source=args.source)
    else:
        with open(args.source, "rb") as handle:
            record = import_tarball(context.store, handle, args.repository, args.change, args.message,
                                    source=args.source)
    _out(record.id)
    return 0


def cmd_save(argv, context):
    parser = _parser("save", "save [OPTIONS] IMAGE [IMAGE...]",
                     "Save one or more images to a tar archive (streamed to STDOUT by default)")
    parser.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    from ..runtime.image.archive import save
    if args.output:
        from ..common.atomic import fsync_directory
        directory = os.path.dirname(os.path.abspath(args.output))
        tmp = os.path.join(directory, ".%s.berth-tmp" % os.path.basename(args.output))
        try:
            with open(tmp, "wb") as handle:
                save(context.store, args.names, handle)
            os.rename(tmp, args.output)
            fsync_directory(directory)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        if sys.stdout.isatty():
            sys.stderr.write("Error: cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
            return 1
        save(context.store, args.names, sys.stdout.buffer)
        sys.stdout.flush()
    return 0


def cmd_load(argv, context):
    parser = _parser("load", "load [OPTIONS]", "Load an image from a tar archive or STDIN")
    parser.add_argument("-i", "--input", help="Read from tar archive file, instead of STDIN")
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    args = parser.parse_args(argv)
    from ..runtime.image.archive import load
    if args.input:
        results = load(context.store, args.input)
    else:
        with context.store.work() as work:
            path = work.file("input.tar")
            with open(path, "wb") as handle:
                while True:
                    data = sys.stdin.buffer.read(1 << 20)
                    if not data:
                        break
                    handle.write(data)
            results = load(context.store, path)
    if not args.quiet:
        for record, tags in results:
            if tags:
                for tag in tags:
                    _out("Loaded image: %s" % tag)
            else:
                _out("Loaded image ID: %s" % record.id)
    return 0


# -- login / logout --------------------------------------------------------

def _server_domain(server):
    from ..runtime.image.reference import DEFAULT_DOMAIN
    if not server:
        return DEFAULT_DOMAIN
    server = server.split("://", 1)[-1].rstrip("/")
    if server in ("index.docker.io", "index.docker.io/v1", "registry-1.docker.io", "docker.io"):
        return DEFAULT_DOMAIN
    return server.split("/", 1)[0]


def cmd_login(argv, context):
    parser = _parser("login", "login [OPTIONS] [SERVER]", "Log in to a container registry")
    parser.add_argument("-u", "--username", help="Username")
    parser.add_argument("-p", "--password", help="Password")
    parser.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    parser.add_argument("server", nargs="?")
    args = parser.parse_args(argv)
    domain = _server_domain(args.server)
    username, password = args.username, args.password
    if args.password_stdin:
        if password:
            sys.stderr.write("Error: --password and --password-stdin are mutually exclusive\n")
            return 1
        if not username:
            sys.stderr.write("Error: Must provide --username with --password-stdin\n")
            return 1
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if not username:
        sys.stdout.write("Username: ")
        sys.stdout.flush()
        username = sys.stdin.readline().strip()
    if not password:
        import getpass
        password = getpass.getpass("Password: ")
    if not username or not password:
        sys.stderr.write("Error: Cannot perform an interactive login without username and password\n")
        return 1
    from ..runtime.image.auth import CredentialStore
    from ..runtime.image.registry import Client, ping

    class _Given(object):
        def get(self, _domain):
            return username, password

    ping(Client(context.registry_config(), _Given()), domain)
    creds = CredentialStore(context.config_dir)
    creds.set(domain, username, password)
    sys.stderr.write("WARNING! Your password will be stored unencrypted in %s.\n" % creds.path)
    _out("Login Succeeded")
    return 0


def cmd_logout(argv, context):
    parser = _parser("logout", "logout [SERVER]", "Log out from a container registry")
    parser.add_argument("server", nargs="?")
    args = parser.parse_args(argv)
    from ..runtime.image.auth import CredentialStore, auth_key
    domain = _server_domain(args.server)
    creds = CredentialStore(context.config_dir)
    if creds.remove(domain):
        _out("Removing login credentials for %s" % auth_key(domain))
    else:
        _out("Not logged in to %s" % auth_key(domain))
    return 0


IMAGE_SUBCOMMANDS = {
    "ls": cmd_images, "list": cmd_images, "pull": cmd_pull, "push": cmd_push, "rm": cmd_rmi,
    "remove": cmd_rmi, "tag": cmd_tag, "inspect": cmd_image_inspect, "import": cmd_import,
    "save": cmd_save, "load": cmd_load,
}
