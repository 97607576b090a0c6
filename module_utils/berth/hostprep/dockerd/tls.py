"""Checks on the TLS files dockerd's TCP listener uses, before they are named in daemon.json."""
import os
import stat

from .errors import DockerdConfigError

PEM_MARKERS = {
    "tls_ca_cert": "-----BEGIN CERTIFICATE-----",
    "tls_cert": "-----BEGIN CERTIFICATE-----",
    "tls_key": "PRIVATE KEY-----",
}


def check_tls_file(setting, path):
    """The file exists, root can read it, it holds PEM of the right kind; a key is private to its owner."""
    if not path or not os.path.isabs(path):
        raise DockerdConfigError(setting, "%r must be an absolute path on the host" % (path,))
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DockerdConfigError(setting, "%s cannot be read (%s); distribute it first "
                                 "(the docker_daemon role does with docker_daemon_tls_generate)"
                                 % (path, exc.strerror))
    if not stat.S_ISREG(info.st_mode):
        raise DockerdConfigError(setting, "%s is not a regular file" % path)
    try:
        with open(path) as handle:
            text = handle.read(65536)
    except (IOError, OSError, UnicodeDecodeError) as exc:
        raise DockerdConfigError(setting, "%s cannot be read (%s)" % (path, exc))
    if PEM_MARKERS[setting] not in text:
        raise DockerdConfigError(setting, "%s holds no PEM %s" % (
            path, "private key" if setting == "tls_key" else "certificate"))
    if setting == "tls_key" and info.st_mode & 0o077:
        raise DockerdConfigError(setting, "%s has mode %04o: others can read dockerd's private key; "
                                 "chmod 0400 %s" % (path, stat.S_IMODE(info.st_mode), path))
    return path
