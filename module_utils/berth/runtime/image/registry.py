"""Registry HTTP API v2 client (standard library only).

What it does, in the order a pull meets it:

* endpoints: Docker Hub is reached through the configured mirrors first, in
  order, then ``registry-1.docker.io``; any other registry over HTTPS with
  verification, unless it is insecure (listed, or loopback like Docker's
  ``127.0.0.0/8``): then HTTPS without verification, then plain HTTP;
* auth: on 401 the ``WWW-Authenticate`` challenge decides: ``Bearer`` gets one
  token per repository scope from the realm (with Basic credentials from the
  login file when there are some), ``Basic`` sends the credentials;
* redirects are followed for GET/HEAD; the Authorization header is dropped
  when the redirect leaves the registry host;
* blobs stream in chunks; a dropped or stalled connection is resumed with
  ``Range`` from the byte reached (a server that ignores Range is read from
  the start and the known prefix skipped), 5xx answers and timeouts are
  retried, all a bounded number of times.
"""
import base64
import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
from urllib.parse import urlencode, urljoin, urlsplit

from .auth import CredentialStore
from .errors import AuthError, IntegrityError, ManifestNotFound, RegistryError

HUB_DOMAIN = "docker.io"
HUB_REGISTRY = "registry-1.docker.io"
HUB_INDEX_URL = "https://index.docker.io"

MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
MEDIA_DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MANIFEST_ACCEPT = ", ".join([MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST])
INDEX_TYPES = (MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX)
MANIFEST_TYPES = (MEDIA_DOCKER_MANIFEST, MEDIA_OCI_MANIFEST)

DEFAULT_TIMEOUT = 60.0
DEFAULT_ATTEMPTS = 5
CHUNK = 1 << 20
USER_AGENT = "berth/0.1"

_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header):
    """``Bearer realm="...",service="..."`` -> ("bearer", {"realm": ..., ...})."""
    if not header:
        return None, {}
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = value.replace('\\"', '"')
    return scheme.lower(), params


class Endpoint(object):
    __slots__ = ("scheme", "netloc", "verify", "mirror", "path_prefix")

    def __init__(self, scheme, netloc, verify=True, mirror=False, path_prefix=""):
        self.scheme = scheme
        self.netloc = netloc
        self.verify = verify
        self.mirror = mirror
        self.path_prefix = path_prefix

    def _key(self):
        return (self.scheme, self.netloc, self.verify, self.path_prefix)

    def __eq__(self, other):
        return isinstance(other, Endpoint) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def url(self, path):
        return "%s://%s%s%s" % (self.scheme, self.netloc, self.path_prefix, path)

    def __repr__(self):
        unverified = self.scheme == "https" and not self.verify
        return "%s://%s%s" % (self.scheme, self.netloc, " (TLS unverified)" if unverified else "")


def _host_of(netloc):
    if netloc.startswith("["):
        return netloc[1:netloc.index("]")]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


class RegistryConfig(object):
    """What the daemon's registry flags say: mirrors, insecure registries, CA dirs.

    ``insecure`` holds host[:port] names and CIDRs, like ``--insecure-registry``;
    loopback is insecure too, as in Docker, unless ``loopback_insecure`` is False.  ``certs_dirs`` are searched for
    ``<host:port>/ca.crt`` (Docker's ``/etc/docker/certs.d`` layout).
    """

    def __init__(self, mirrors=(), insecure=(), certs_dirs=None, timeout=DEFAULT_TIMEOUT,
                 attempts=DEFAULT_ATTEMPTS, backoff=1.0, index_url=HUB_INDEX_URL, loopback_insecure=True):
        self.mirrors = [m.rstrip("/") for m in mirrors]
        self.insecure = list(insecure)
        self.certs_dirs = list(certs_dirs) if certs_dirs is not None else [
            "/etc/berth/certs.d", "/etc/docker/certs.d"]
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.index_url = index_url.rstrip("/")
        self.loopback_insecure = loopback_insecure

    @classmethod
    def from_daemon_json(cls, path, **overrides):
        """Read ``registry-mirrors`` and ``insecure-registries`` from a daemon.json."""
        try:
            with open(path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            data = {}
        except ValueError as err:
            raise RegistryError("cannot parse %s: %s" % (path, err))
        kwargs = {"mirrors": data.get("registry-mirrors", []),
                  "insecure": data.get("insecure-registries", [])}
        kwargs.update(overrides)
        return cls(**kwargs)

    def is_insecure(self, netloc):
        if netloc in self.insecure:
            return True
        import ipaddress
        host = _host_of(netloc)
        if host == "localhost":
            host = "127.0.0.1"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self.insecure
        if address.is_loopback and self.loopback_insecure:
            return True
        for item in self.insecure:
            try:
                if address in ipaddress.ip_network(item, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def endpoints(self, domain):
        if domain == HUB_DOMAIN:
            result = []
            for mirror in self.mirrors:
                parts = urlsplit(mirror if "://" in mirror else "https://" + mirror)
                result.append(Endpoint(parts.scheme, parts.netloc, verify=not self.is_insecure(parts.netloc),
                                       mirror=True, path_prefix=parts.path.rstrip("/")))
            result.append(Endpoint("https", HUB_REGISTRY))
            return result
        if self.is_insecure(domain):
            return [Endpoint("https", domain, verify=False), Endpoint("http", domain)]
        return [Endpoint("https", domain)]

    def ca_file(self, netloc):
        for directory in self.certs_dirs:
            path = os.path.join(directory, netloc, "ca.crt")
            if os.path.exists(path):
                return path
        return None


class _Local(threading.local):
    def __init__(self):
        threading.local.__init__(self)
        self.connections = {}


class Client(object):
    """Talks HTTP to registries; shared by every repository of one command."""

    def __init__(self, config=None, credentials=None):
        self.config = config or RegistryConfig()
        self.credentials = credentials if credentials is not None else CredentialStore()
        self._local = _Local()
        self._tokens = {}
        self._basic = {}
        self._lock = threading.Lock()
        self._contexts = {}
        self.preferred = {}

    # -- connections -------------------------------------------------------
    def _ssl_context(self, netloc, verify):
        key = (netloc, verify)
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                if verify:
                    context = ssl.create_default_context(cafile=self.config.ca_file(netloc))
                else:
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                self._contexts[key] = context
        return context

    def _connection(self, scheme, netloc, verify, fresh=False):
        key = (scheme, netloc, verify)
        conn = self._local.connections.get(key)
        if conn is not None and not fresh:
            return conn, True
        if conn is not None:
            conn.close()
        if scheme == "https":
            conn = http.client.HTTPSConnection(netloc, timeout=self.config.timeout,
                                               context=self._ssl_context(netloc, verify))
        else:
            conn = http.client.HTTPConnection(netloc, timeout=self.config.timeout)
        self._local.connections[key] = conn
        return conn, False

    def drop_connection(self, scheme, netloc, verify):
        conn = self._local.connections.pop((scheme, netloc, verify), None)
        if conn is not None:
            conn.close()

    def close(self):
        for conn in self._local.connections.values():
            conn.close()
        self._local.connections.clear()

    def send(self, method, url, headers=None, body=None, verify=True):
        """One HTTP exchange (a stale keep-alive connection is retried once)."""
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        hdrs = {"User-Agent": USER_AGENT}
        hdrs.update(headers or {})
        for fresh in (False, True):
            conn, reused = self._connection(parts.scheme, parts.netloc, verify, fresh)
            try:
                if hasattr(body, "seek"):
                    body.seek(0)
                conn.request(method, path or "/", body=body, headers=hdrs)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.drop_connection(parts.scheme, parts.netloc, verify)
                if not reused or fresh:
                    raise
            except Exception:
                self.drop_connection(parts.scheme, parts.netloc, verify)
                raise
        raise AssertionError("unreachable")

    # -- auth --------------------------------------------------------------
    def auth_header(self, netloc, scope):
        token = self._tokens.get((netloc, scope))
        if token is not None:
            return "Bearer " + token
        basic = self._basic.get(netloc)
        if basic is not None:
            return basic
        return None

    def authenticate(self, endpoint, challenge_header, scope, domain):
        """Answer a 401 challenge; remember the result for (host, scope)."""
        scheme, params = parse_challenge(challenge_header)
        creds = self.credentials.get(domain) if self.credentials else None
        if endpoint.mirror:
            creds = None
        if scheme == "basic":
            if creds is None:
                raise AuthError("%s requires authentication: run `berth login %s`" % (domain, domain), 401)
            raw = ("%s:%s" % creds).encode("utf-8")
            self._basic[endpoint.netloc] = "Basic " + base64.b64encode(raw).decode("ascii")
            return
        if scheme != "bearer" or "realm" not in params:
            raise AuthError("%s answered 401 with an unsupported challenge %r" % (domain, challenge_header), 401)
        query = {}
        if params.get("service"):
            query["service"] = params["service"]
        if scope:
            query["scope"] = scope
        realm = params["realm"]
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        headers = {}
        if creds is not None:
            raw = ("%s:%s" % creds).encode("utf-8")
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        realm_parts = urlsplit(realm)
        verify = not (realm_parts.scheme == "https" and self.config.is_insecure(realm_parts.netloc))
        try:
            resp = self.send("GET", url, headers, verify=verify)
            body = resp.read()
        except (OSError, http.client.HTTPException) as err:
            raise AuthError("cannot get a token from %s: %s" % (realm, err))
        if resp.status in (401, 403):
            raise AuthError("%s refused the credentials for %s (%d): run `berth login %s`"
                            % (realm, domain, resp.status, domain), resp.status)
        if resp.status != 200:
            raise AuthError("token server %s answered %d" % (realm, resp.status), resp.status)
        try:
            answer = json.loads(body.decode("utf-8"))
        except ValueError:
            raise AuthError("token server %s sent no JSON" % realm)
        token = answer.get("token") or answer.get("access_token")
        if not token:
            raise AuthError("token server %s sent no token" % realm)
        self._tokens[(endpoint.netloc, scope)] = token

    # -- requests ----------------------------------------------------------
    def request(self, endpoint, method, path, scope, domain, headers=None, body=None, follow=True):
        """Send with auth and redirects; returns an unread ``HTTPResponse``."""
        url = endpoint.url(path) if path.startswith("/") else path
        verify = endpoint.verify
        authed = False
        for _ in range(10):
            hdrs = dict(headers or {})
            same_host = urlsplit(url).netloc == endpoint.netloc
            if same_host:
                auth = self.auth_header(endpoint.netloc, scope)
                if auth:
                    hdrs["Authorization"] = auth
            resp = self.send(method, url, hdrs, body, verify=verify if same_host else True)
            if resp.status == 401 and same_host and not authed:
                challenge = resp.getheader("WWW-Authenticate", "")
                resp.read()
                self.authenticate(endpoint, challenge, scope, domain)
                authed = True
                continue
            if follow and resp.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
                location = resp.getheader("Location")
                resp.read()
                if not location:
                    raise RegistryError("redirect without Location from %s" % url, resp.status)
                url = urljoin(url, location)
                continue
            return resp
        raise RegistryError("too many redirects or auth rounds for %s" % url)


def _error_text(resp, body):
    try:
        errors = json.loads(body.decode("utf-8")).get("errors") or []
        if errors:
            return "; ".join("%s: %s" % (e.get("code", ""), e.get("message", "")) for e in errors)
    except (ValueError, AttributeError):
        pass
    return "HTTP %d %s" % (resp.status, resp.reason)


class Repository(object):
    """One repository on one registry, reached through the first endpoint that works."""

    def __init__(self, client, ref, push=False):
        self.client = client
        self.ref = ref
        self.domain = ref.domain
        self.path = ref.path
        self.scope = "repository:%s:%s" % (ref.path, "pull,push" if push else "pull")
        self.endpoints = client.config.endpoints(ref.domain)
        self.endpoint = None

    def _call(self, endpoint, method, path, headers=None, body=None):
        return self.client.request(endpoint, method, path, self.scope, self.domain, headers, body)

    def _with_endpoints(self, func):
        """Run ``func(endpoint)`` on the chosen endpoint, or find one that works."""
        if self.endpoint is not None:
            return func(self.endpoint)
        errors = []
        last = None
        preferred = self.client.preferred.get(self.domain)
        endpoints = list(self.endpoints)
        if preferred is not None and preferred in endpoints:
            endpoints.remove(preferred)
            endpoints.insert(0, preferred)
        for endpoint in endpoints:
            try:
                result = func(endpoint)
            except AuthError:
                if endpoint.mirror:
                    errors.append("%r: authentication refused" % endpoint)
                    continue
                raise
            except ManifestNotFound as err:
                if endpoint.mirror:
                    errors.append("%r: %s" % (endpoint, err))
                    last = err
                    continue
                raise
            except RegistryError as err:
                if err.registry_status is not None and err.registry_status < 500 and not endpoint.mirror:
                    raise
                errors.append("%r: %s" % (endpoint, err))
                last = err
                continue
            except (OSError, http.client.HTTPException) as err:
                errors.append("%r: %s" % (endpoint, _describe_os_error(err, self.client.config.timeout)))
                self.client.drop_connection(endpoint.scheme, endpoint.netloc, endpoint.verify)
                continue
            self.endpoint = endpoint
            self.client.preferred[self.domain] = endpoint
            return result
        if isinstance(last, ManifestNotFound) and len(errors) == 1:
            raise last
        raise RegistryError("cannot reach %s: %s" % (self.domain, "; ".join(errors)),
                            getattr(last, "status", None))

    # -- manifests ---------------------------------------------------------
    def get_manifest(self, tag_or_digest):
        """``(bytes, media_type, digest)``; bytes verified when asked by digest."""
        def fetch(endpoint):
            resp = self._call(endpoint, "GET", "/v2/%s/manifests/%s" % (self.path, tag_or_digest),
                              {"Accept": MANIFEST_ACCEPT})
            body = resp.read()
            if resp.status == 404:
                raise ManifestNotFound("manifest for %s:%s not found: %s"
                                       % (self.ref.familiar_name, tag_or_digest, _error_text(resp, body)), 404)
            if resp.status in (401, 403):
                raise AuthError("pull access denied for %s: %s" % (self.ref.familiar_name,
                                                                   _error_text(resp, body)), resp.status)
            if resp.status != 200:
                raise RegistryError("fetching manifest %s of %s: %s"
                                    % (tag_or_digest, self.ref.name, _error_text(resp, body)), resp.status)
            return body, resp.getheader("Content-Type", ""), resp.getheader("Docker-Content-Digest")
        body, content_type, header_digest = self._with_endpoints(fetch)
        import hashlib
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if tag_or_digest.startswith("sha256:") and digest != tag_or_digest:
            raise IntegrityError("manifest verification failed for digest %s (content hashes to %s)"
                                 % (tag_or_digest, digest))
        if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise IntegrityError("manifest of %s:%s: registry says digest %s, content hashes to %s"
                                 % (self.ref.name, tag_or_digest, header_digest, digest))
        return body, content_type.split(";")[0].strip(), digest

    def tags(self):
        """Every tag of the repository (``/v2/<name>/tags/list``, pages followed)."""
        found = []
        path = "/v2/%s/tags/list?n=1000" % self.path
        while path:
            def get(endpoint, path=path):
                resp = self._call(endpoint, "GET", path)
                body = resp.read()
                if resp.status == 404:
                    raise ManifestNotFound("repository %s not found" % self.ref.name, 404)
                if resp.status != 200:
                    raise RegistryError("listing tags of %s: %s" % (self.ref.name, _error_text(resp, body)),
                                        resp.status)
                return resp.getheader("Link"), body
            link, body = self._with_endpoints(get)
            found.extend(json.loads(body.decode("utf-8")).get("tags") or [])
            path = _next_page(link)
        return found

    # -- blobs -------------------------------------------------------------
    def blob_url(self, digest):
        return "/v2/%s/blobs/%s" % (self.path, digest)

    def fetch_blob(self, digest, size=None):
        """A small blob (a config), fully read and verified."""
        import hashlib
        parts = list(self.iter_blob(digest, size))
        data = b"".join(bytes(p) for p in parts)
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise IntegrityError("blob %s failed verification: content hashes to %s" % (digest, actual))
        if size is not None and len(data) != size:
            raise IntegrityError("blob %s: expected %d bytes, got %d" % (digest, size, len(data)))
        return data

    def iter_blob(self, digest, size=None, cancelled=None, on_retry=None):
        """Yield the blob in chunks, resuming with Range after a dropped connection.

        Yields memoryviews over fresh buffers (safe to keep).  The digest is
        NOT checked here: the caller hashes what it consumes.
        """
        def first(endpoint):
            return endpoint
        endpoint = self._with_endpoints(first)
        config = self.client.config
        offset = 0
        failures = 0
        last_error = None
        while True:
            if cancelled is not None and cancelled.is_set():
                return
            headers = {}
            if offset:
                headers["Range"] = "bytes=%d-" % offset
            try:
                resp = self._call(endpoint, "GET", self.blob_url(digest), headers)
                status = resp.status
                skip = 0
                if status == 206:
                    start = _content_range_start(resp.getheader("Content-Range", ""))
                    if start != offset:
                        resp.read()
                        raise _Retry("registry answered Range bytes=%d- with %r"
                                     % (offset, resp.getheader("Content-Range", "")))
                elif status == 200:
                    skip = offset
                elif status == 404:
                    body = resp.read()
                    raise RegistryError("blob %s not found in %s: %s"
                                        % (digest, self.ref.name, _error_text(resp, body)), 404)
                elif status in (401, 403):
                    body = resp.read()
                    raise AuthError("access to blob %s denied: %s" % (digest, _error_text(resp, body)), status)
                elif status == 416 and size is not None and offset >= size:
                    resp.read()
                    return
                else:
                    body = resp.read()
                    raise _Retry("fetching blob %s: %s" % (digest, _error_text(resp, body)), status)
                while True:
                    if cancelled is not None and cancelled.is_set():
                        resp.close()
                        return
                    buf = bytearray(CHUNK)
                    count = resp.readinto(buf)
                    if not count:
                        break
                    view = memoryview(buf)[:count]
                    if skip:
                        if count <= skip:
                            skip -= count
                            continue
                        view = view[skip:]
                        skip = 0
                    offset += len(view)
                    if size is not None and offset > size:
                        raise IntegrityError("blob %s is longer than the %d bytes its descriptor says"
                                             % (digest, size))
                    yield view
                if size is None or offset == size:
                    return
                raise _Retry("connection closed after %d of %d bytes" % (offset, size))
            except (_Retry, OSError, http.client.HTTPException) as err:
                self.client.drop_connection(endpoint.scheme, endpoint.netloc, endpoint.verify)
                failures += 1
                last_error = err
                message = _describe_os_error(err, config.timeout)
                if on_retry is not None:
                    on_retry(failures, message)
                if failures >= config.attempts:
                    raise RegistryError("downloading blob %s from %s failed after %d attempts: %s"
                                        % (digest, endpoint.netloc, failures, message),
                                        getattr(last_error, "status", None))
                time.sleep(min(config.backoff * failures, 10.0))

    def blob_exists(self, digest):
        def head(endpoint):
            resp = self._call(endpoint, "HEAD", self.blob_url(digest))
            resp.read()
            if resp.status in (401, 403):
                raise AuthError("access to %s denied (%d)" % (self.ref.name, resp.status), resp.status)
            if resp.status >= 500:
                raise RegistryError("HEAD %s: HTTP %d" % (digest, resp.status), resp.status)
            return resp.status == 200
        return self._with_endpoints(head)

    def upload_blob(self, digest, size, fileobj, mount_from=None):
        """Monolithic upload: POST for a session, then PUT with the body and digest.

        With ``mount_from`` (a repository path on the same registry) the POST
        first asks for a cross-repository mount; returns "mounted" when the
        registry did that, "uploaded" otherwise.
        """
        def upload(endpoint):
            path = "/v2/%s/blobs/uploads/" % self.path
            if mount_from:
                path += "?" + urlencode({"mount": digest, "from": mount_from})
            resp = self._call(endpoint, "POST", path, {"Content-Length": "0"}, b"")
            body = resp.read()
            if resp.status == 201 and mount_from:
                return "mounted"
            if resp.status in (401, 403):
                raise AuthError("denied: requested access to %s is denied (%s)"
                                % (self.ref.name, _error_text(resp, body)), resp.status)
            if resp.status != 202:
                raise RegistryError("starting upload to %s: %s" % (self.ref.name, _error_text(resp, body)),
                                    resp.status)
            location = urljoin(endpoint.url("/v2/"), resp.getheader("Location"))
            location += ("&" if "?" in location else "?") + urlencode({"digest": digest})
            resp = self._call(endpoint, "PUT", location,
                              {"Content-Length": str(size), "Content-Type": "application/octet-stream"},
                              fileobj)
            body = resp.read()
            if resp.status != 201:
                raise RegistryError("uploading blob %s to %s: %s"
                                    % (digest, self.ref.name, _error_text(resp, body)), resp.status)
            return "uploaded"
        return self._with_endpoints(upload)

    def put_manifest(self, tag, data, media_type):
        def put(endpoint):
            resp = self._call(endpoint, "PUT", "/v2/%s/manifests/%s" % (self.path, tag),
                              {"Content-Type": media_type, "Content-Length": str(len(data))}, data)
            body = resp.read()
            if resp.status in (401, 403):
                raise AuthError("denied: requested access to %s is denied" % self.ref.name, resp.status)
            if resp.status != 201:
                raise RegistryError("putting manifest %s:%s: %s" % (self.ref.name, tag, _error_text(resp, body)),
                                    resp.status)
            return resp.getheader("Docker-Content-Digest")
        return self._with_endpoints(put)


class _Retry(Exception):
    def __init__(self, message, status=None):
        Exception.__init__(self, message)
        self.status = status


def _content_range_start(header):
    match = re.match(r"bytes\s+(\d+)-", header or "")
    return int(match.group(1)) if match else None


def _describe_os_error(err, timeout):
    if isinstance(err, socket.timeout):
        return "timed out after %gs without data" % timeout
    if isinstance(err, ssl.SSLError):
        return "TLS error: %s" % err
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return str(err) or err.__class__.__name__


def ping(client, domain):
    """GET /v2/ with credentials (for ``login``); returns the endpoint that answered."""
    endpoints = client.config.endpoints(domain)
    errors = []
    for endpoint in endpoints:
        try:
            resp = client.request(endpoint, "GET", "/v2/", "", domain)
            body = resp.read()
        except AuthError:
            raise
        except (OSError, http.client.HTTPException) as err:
            errors.append("%r: %s" % (endpoint, _describe_os_error(err, client.config.timeout)))
            client.drop_connection(endpoint.scheme, endpoint.netloc, endpoint.verify)
            continue
        if resp.status == 200:
            return endpoint
        if resp.status in (401, 403):
            raise AuthError("login to %s failed: %s" % (domain, _error_text(resp, body)), resp.status)
        errors.append("%r: %s" % (endpoint, _error_text(resp, body)))
    raise RegistryError("cannot reach %s: %s" % (domain, "; ".join(errors)))


def catalog(client, domain):
    """Every repository name the registry's ``/v2/_catalog`` lists (pages followed)."""
    from .reference import Reference
    repo = Repository(client, Reference(domain, "catalog"))
    repo.scope = "registry:catalog:*"
    names = []
    path = "/v2/_catalog?n=1000"
    while path:
        def get(endpoint, path=path):
            resp = repo._call(endpoint, "GET", path)
            body = resp.read()
            if resp.status != 200:
                raise RegistryError("catalog of %s: %s" % (domain, _error_text(resp, body)), resp.status)
            return resp.getheader("Link"), body
        link, body = repo._with_endpoints(get)
        names.extend(json.loads(body.decode("utf-8")).get("repositories") or [])
        path = _next_page(link)
    return names


def _next_page(link):
    """The path of an RFC 5988 ``Link: <...>; rel="next"`` header, or None."""
    match = re.match(r"<([^>]+)>", link or "")
    if not match:
        return None
    parts = urlsplit(match.group(1))
    return parts.path + ("?" + parts.query if parts.query else "")


def hub_search(client, term, limit):
    """Docker Hub's search API (``/v1/search``)."""
    url = "%s/v1/search?%s" % (client.config.index_url, urlencode({"q": term, "n": limit}))
    parts = urlsplit(url)
    verify = not (parts.scheme == "https" and client.config.is_insecure(parts.netloc))
    try:
        resp = client.send("GET", url, {"Accept": "application/json"}, verify=verify)
        body = resp.read()
    except (OSError, http.client.HTTPException) as err:
        raise RegistryError("searching %s: %s" % (client.config.index_url,
                                                  _describe_os_error(err, client.config.timeout)))
    if resp.status != 200:
        raise RegistryError("searching %s: %s" % (client.config.index_url, _error_text(resp, body)), resp.status)
    return json.loads(body.decode("utf-8")).get("results") or []
