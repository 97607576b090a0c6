"""A small Docker Engine API client over a unix socket (API 1.41 shapes).

Standard library only, so it runs inside module payloads on any managed host.
It speaks to a real dockerd today and to berthd later: the socket is the only
difference.
"""
import http.client
import json
import socket
from urllib.parse import quote, urlencode

from ..common import errors
from ..common.errors import BerthError

DEFAULT_SOCKET = "/var/run/docker.sock"
API_VERSION = "1.41"


class EngineError(BerthError):
    """The engine answered with an error status, or could not be reached."""

    def __init__(self, message, status=None):
        BerthError.__init__(self, message)
        if status is not None:
            self.status = status


class NotFound(EngineError, errors.NotFound):
    """The engine has no such object (404)."""


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection whose transport is a unix stream socket."""

    def __init__(self, socket_path, timeout):
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class EngineClient:
    """Engine API calls as methods returning decoded JSON (or None)."""

    def __init__(self, socket_path=DEFAULT_SOCKET, timeout=120, api_version=API_VERSION):
        self.socket_path = socket_path
        self.timeout = timeout
        self.prefix = "/v" + api_version

    def request(self, method, path, query=None, body=None, headers=None, raw_body=None):
        """Send one request; return the decoded JSON answer (None when empty)."""
        url = self.prefix + path
        if query:
            url += "?" + urlencode(query, doseq=True)
        send_headers = dict(headers or {})
        payload = raw_body
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        conn = UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            try:
                try:
                    conn.request(method, url, body=payload, headers=send_headers)
                except (BrokenPipeError, ConnectionResetError):
                    # The engine refused the request before reading the whole body; its
                    # answer (the reason) is still waiting on the socket.
                    pass
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise EngineError(
                    "cannot reach the engine at %s (%s): is the daemon running?" % (self.socket_path, exc)
                )
        finally:
            conn.close()
        if response.status >= 400:
            message = _error_message(data) or response.reason
            cls = NotFound if response.status == 404 else EngineError
            raise cls("%s %s: %s" % (method, path, message), status=response.status)
        if not data:
            return None
        if response.getheader("Content-Type", "").startswith("application/json"):
            return _decode_json_or_stream(data)
        return data

    # -- system -----------------------------------------------------------------
    def ping(self):
        return self.request("GET", "/_ping")

    def version(self):
        return self.request("GET", "/version")

    # -- images -----------------------------------------------------------------
    def image_inspect(self, name):
        return self.request("GET", "/images/%s/json" % quote(name, safe=""))

    def image_import(self, tar_path, repo, tag, changes=()):
        """``docker import``: a rootfs tarball becomes a one-layer image."""
        query = {"fromSrc": "-", "repo": repo, "tag": tag}
        if changes:
            query["changes"] = list(changes)
        with open(tar_path, "rb") as tarball:
            messages = self.request(
                "POST", "/images/create", query=query, raw_body=tarball,
                headers={"Content-Type": "application/x-tar"},
            )
        for message in messages if isinstance(messages, list) else [messages]:
            if isinstance(message, dict) and message.get("error"):
                raise EngineError("importing %s failed: %s" % (tar_path, message["error"]))
        return self.image_inspect("%s:%s" % (repo, tag))

    def image_remove(self, name):
        return self.request("DELETE", "/images/%s" % quote(name, safe=""))

    # -- networks ---------------------------------------------------------------
    def network_inspect(self, name):
        return self.request("GET", "/networks/%s" % quote(name, safe=""))

    def network_create(self, body):
        return self.request("POST", "/networks/create", body=body)

    def network_remove(self, name):
        return self.request("DELETE", "/networks/%s" % quote(name, safe=""))

    # -- volumes ----------------------------------------------------------------
    def volume_create(self, body):
        return self.request("POST", "/volumes/create", body=body)

    def volumes(self, label):
        answer = self.request("GET", "/volumes", query={"filters": json.dumps({"label": [label]})})
        return answer.get("Volumes") or []

    def volume_remove(self, name):
        return self.request("DELETE", "/volumes/%s" % quote(name, safe=""))

    # -- containers ---------------------------------------------------------------
    def containers(self, label=None, all=True):
        query = {"all": "1" if all else "0"}
        if label:
            query["filters"] = json.dumps({"label": [label]})
        return self.request("GET", "/containers/json", query=query)

    def container_inspect(self, name):
        return self.request("GET", "/containers/%s/json" % quote(name, safe=""))

    def container_create(self, name, body):
        return self.request("POST", "/containers/create", query={"name": name}, body=body)

    def container_start(self, name):
        return self.request("POST", "/containers/%s/start" % quote(name, safe=""))

    def container_remove(self, name, force=True, volumes=True):
        query = {"force": "1" if force else "0", "v": "1" if volumes else "0"}
        return self.request("DELETE", "/containers/%s" % quote(name, safe=""), query=query)


def _error_message(data):
    try:
        return json.loads(data.decode("utf-8")).get("message")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return data.decode("utf-8", "replace").strip()


def _decode_json_or_stream(data):
    """Decode one JSON document, or a stream of them (progress messages) as a list."""
    text = data.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
