"""Registry credentials kept like Docker's ``config.json``.

``{"auths": {"host:port": {"auth": base64("user:password")}}}`` in a file only
its owner can read (0600).  The file is ``$BERTH_CONFIG/config.json`` or
``~/.berth/config.json``.  Docker Hub's key is ``https://index.docker.io/v1/``,
as Docker writes it.
"""
import base64
import json
import os

from .errors import BerthError

HUB_AUTH_KEY = "https://index.docker.io/v1/"


def default_config_dir():
    return os.environ.get("BERTH_CONFIG") or os.path.join(os.path.expanduser("~"), ".berth")


def auth_key(domain):
    if domain in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return HUB_AUTH_KEY
    return domain


class CredentialStore(object):
    def __init__(self, config_dir=None):
        self.config_dir = config_dir or default_config_dir()
        self.path = os.path.join(self.config_dir, "config.json")

    def _load(self):
        try:
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read().decode("utf-8") or "{}")
        except FileNotFoundError:
            return {}
        except ValueError as err:
            raise BerthError("cannot read credentials from %s: %s" % (self.path, err))
        return data if isinstance(data, dict) else {}

    def get(self, domain):
        """``(user, password)`` for ``domain``, or None."""
        entry = self._load().get("auths", {}).get(auth_key(domain))
        if not entry:
            return None
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise BerthError("malformed credentials for %s in %s" % (domain, self.path))
            return user, password
        if entry.get("username"):
            return entry["username"], entry.get("password", "")
        return None

    def set(self, domain, user, password):
        data = self._load()
        token = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")
        from ...common.atomic import atomic_write
        data.setdefault("auths", {})[auth_key(domain)] = {"auth": token}
        os.makedirs(self.config_dir, 0o700, exist_ok=True)
        atomic_write(self.path, json.dumps(data, indent="\t", sort_keys=True) + "\n", mode=0o600)

    def remove(self, domain):
        data = self._load()
        auths = data.get("auths", {})
        if auth_key(domain) not in auths:
            return False
        del auths[auth_key(domain)]
        from ...common.atomic import atomic_write
        atomic_write(self.path, json.dumps(data, indent="\t", sort_keys=True) + "\n", mode=0o600)
        return True
