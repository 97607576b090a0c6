"""HTTP fronts for a real registry, written for the tests.

``FaultProxy`` forwards to the registry and injects one fault into blob
downloads (dropped connection, flipped byte, ignored Range, 500s, stall).
``TokenAuthFront`` makes the registry behave like Docker Hub: Bearer tokens per
repository scope from its own ``/token`` realm, Basic credentials checked there.
Both listen on loopback only and stop with the test.
"""
import base64
import http.client
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate"}
BLOB_GET = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _any(self):
        self.server.front.handle(self)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any


class Front(object):
    def __init__(self, upstream):
        self.upstream = upstream
        self.requests = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.front = self
        self.host = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def handle(self, req):
        with self.lock:
            self.requests.append((req.command, req.path, req.headers.get("Range"),
                                  req.headers.get("Authorization")))
        self.forward(req)

    def body_of(self, req):
        length = int(req.headers.get("Content-Length") or 0)
        return req.rfile.read(length) if length else None

    def open_upstream(self, req, body):
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP_HEADERS}
        headers["Host"] = self.host
        headers.pop("Authorization", None)
        conn.request(req.command, req.path, body=body, headers=headers)
        return conn, conn.getresponse()

    def forward(self, req, transform=None):
        body = self.body_of(req)
        conn, resp = self.open_upstream(req, body)
        data = resp.read()
        conn.close()
        if transform is not None:
            data = transform(data)
        self.reply(req, resp.status, resp.getheaders(), data)

    def reply(self, req, status, headers, data, length=None):
        req.send_response(status)
        for key, value in headers:
            if key.lower() in HOP_HEADERS or key.lower() == "content-length":
                continue
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(data) if length is None else length))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(data)


class FaultProxy(Front):
    """Injects ``mode`` into GETs of the blob ``target`` (a digest); other requests pass through."""

    def __init__(self, upstream):
        Front.__init__(self, upstream)
        self.mode = None
        self.target = None
        self.count = 0
        self.stall_seconds = 5
        self.active = 0
        self.max_active = 0

    def handle(self, req):
        with self.lock:
            self.requests.append((req.command, req.path, req.headers.get("Range"), None))
        match = BLOB_GET.match(req.path)
        if self.mode == "slow" and req.command == "GET" and match:
            return self._slow(req)
        if req.command != "GET" or not match or match.group(2) != self.target or not self.mode:
            return self.forward(req)
        with self.lock:
            self.count += 1
            count = self.count
        conn, resp = self.open_upstream(req, None)
        if resp.status in (301, 302, 307):
            data = resp.read()
            conn.close()
            return self.reply(req, resp.status, resp.getheaders(), data)
        data = resp.read()
        conn.close()
        status, headers = resp.status, resp.getheaders()
        mode = self.mode
        if mode == "drop" and count == 1:
            return self._drop(req, status, headers, data)
        if mode == "ignore-range":
            if count == 1:
                return self._drop(req, status, headers, data)
            full = self._full(req)
            return self.reply(req, 200, [("Content-Type", "application/octet-stream")], full)
        if mode == "flip":
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
            return self.reply(req, status, headers, data)
        if mode == "500" and count <= 2:
            return self.reply(req, 500, [("Content-Type", "application/json")],
                              b'{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}')
        if mode == "stall":
            req.send_response(status)
            for key, value in headers:
                if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                    req.send_header(key, value)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data[:1000])
            req.wfile.flush()
            time.sleep(self.stall_seconds)
            req.close_connection = True
            return None
        return self.reply(req, status, headers, data)

    def _slow(self, req):
        """Every blob takes 0.3 s: counts how many downloads run at once."""
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(0.3)
            return self.forward(req)
        finally:
            with self.lock:
                self.active -= 1

    def _full(self, req):
        headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP_HEADERS and k.lower() != "range"}
        headers["Host"] = self.host
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        conn.request("GET", req.path, headers=headers)
        data = conn.getresponse().read()
        conn.close()
        return data

    def _drop(self, req, status, headers, data):
        """Announce the whole body, send half, close the connection."""
        req.send_response(status)
        for key, value in headers:
            if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                req.send_header(key, value)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data[:len(data) // 2])
        req.wfile.flush()
        req.close_connection = True


class TokenAuthFront(Front):
    """Docker-Hub-style token auth in front of a registry."""

    SERVICE = "berth-test-registry"

    def __init__(self, upstream, users, redirect_blobs_to=None):
        Front.__init__(self, upstream)
        self.users = users
        self.tokens = {}
        self.token_requests = []
        self.redirect_blobs_to = redirect_blobs_to

    def _challenge(self, req, scope):
        params = 'realm="http://%s/token",service="%s"' % (self.host, self.SERVICE)
        if scope:
            params += ',scope="%s"' % scope
        body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
        self.reply(req, 401, [("WWW-Authenticate", "Bearer " + params), ("Content-Type", "application/json")], body)

    def handle(self, req):
        with self.lock:
            self.requests.append((req.command, req.path, req.headers.get("Range"),
                                  req.headers.get("Authorization")))
        if req.path.startswith("/token"):
            return self._token(req)
        match = re.match(r"^/v2/(.+?)/(manifests|blobs|tags)/", req.path)
        if req.path in ("/v2/", "/v2"):
            if self._granted(req) is None:
                return self._challenge(req, None)
            return self.forward(req)
        if not match:
            return self._challenge(req, None)
        repo = match.group(1)
        action = "pull" if req.command in ("GET", "HEAD") else "push"
        scope = "repository:%s:%s" % (repo, "pull" if action == "pull" else "pull,push")
        granted = self._granted(req)
        if granted is None or repo not in granted or action not in granted[repo]:
            self.body_of(req)
            return self._challenge(req, scope)
        if self.redirect_blobs_to and req.command == "GET" and BLOB_GET.match(req.path):
            location = "http://%s%s" % (self.redirect_blobs_to, req.path)
            return self.reply(req, 307, [("Location", location)], b"")
        return self.forward(req)

    def _granted(self, req):
        auth = req.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return None
        return self.tokens.get(auth[len("Bearer "):])

    def _token(self, req):
        from urllib.parse import parse_qs, urlsplit
        query = parse_qs(urlsplit(req.path).query)
        auth = req.headers.get("Authorization") or ""
        user = None
        if auth.startswith("Basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if self.users.get(name) != password:
                return self.reply(req, 401, [("Content-Type", "application/json")], b'{"details":"bad credentials"}')
            user = name
        if user is None:
            return self.reply(req, 401, [("Content-Type", "application/json")], b'{"details":"login required"}')
        granted = {}
        for scope in query.get("scope", []):
            kind, repo, actions = scope.split(":")
            if kind == "repository":
                granted[repo] = set(actions.split(","))
        token = uuid.uuid4().hex
        self.tokens[token] = granted
        self.token_requests.append((user, query.get("service", [""])[0], sorted(query.get("scope", []))))
        self.reply(req, 200, [("Content-Type", "application/json")],
                   json.dumps({"token": token, "expires_in": 300}).encode())
