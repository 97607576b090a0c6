"""Registries that want credentials: TLS + htpasswd (Basic), a token-auth front (Bearer), and mirrors."""
import base64
import json
import os
import shutil
import stat
import subprocess

import pytest
from berth.runtime.image import reference
from berth.runtime.image.auth import CredentialStore
from berth.runtime.image.errors import AuthError, RegistryError
from berth.runtime.image.registry import Client, RegistryConfig, Repository
from berth.runtime.image.store import Store
from imagehelp import layer_tar, make_image
from proxies import TokenAuthFront
from regfix import Registry, berth

IMAGE_LAYERS = [layer_tar({"etc/base": b"base\n"}), layer_tar({"app/run": b"run\n"})]


def openssl(*args, cwd):
    subprocess.check_call(["openssl"] + list(args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA made by the test and a server certificate for 127.0.0.1 signed by it."""
    d = str(tmp_path_factory.mktemp("pki"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=berth test CA",
            cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as handle:
        handle.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=d)
    return d


@pytest.fixture(scope="module")
def tls_registry(pki):
    if not shutil.which("htpasswd"):
        pytest.skip("htpasswd (Debian package apache2-utils) is needed to make the registry's bcrypt file")
    htpasswd = os.path.join(pki, "htpasswd")
    line = subprocess.check_output(["htpasswd", "-Bbn", "alice", "s3cret"], universal_newlines=True)
    with open(htpasswd, "w") as handle:
        handle.write(line.strip() + "\n")
    auth = "auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n" % htpasswd
    registry = Registry(auth_yaml=auth, tls=(os.path.join(pki, "server.crt"), os.path.join(pki, "server.key")))
    yield registry
    registry.stop()


def seed_store(tmp_path, host, name):
    seed = str(tmp_path / "seed")
    image = make_image(Store(seed), IMAGE_LAYERS, ["%s/%s" % (host, name)])
    return seed, image


def test_login_push_pull_logout_over_tls_with_basic_auth(tls_registry, tmp_path):
    host = tls_registry.host
    seed, image = seed_store(tmp_path, host, "private:1")
    denied = berth(["push", "%s/private:1" % host], seed, check=False)
    assert denied.returncode == 1
    assert "%s requires authentication: run `berth login %s`" % (host, host) in denied.stderr
    wrong = berth(["login", "-u", "alice", "--password-stdin", host], seed, input="nope\n", check=False)
    assert wrong.returncode == 1 and "login to %s failed" % host in wrong.stderr
    assert not os.path.exists(os.path.join(seed, "client-config", "config.json"))
    ok = berth(["login", "-u", "alice", "--password-stdin", host], seed, input="s3cret\n")
    assert ok.stdout == "Login Succeeded\n"
    config_path = os.path.join(seed, "client-config", "config.json")
    assert stat.S_IMODE(os.stat(config_path).st_mode) == 0o600
    with open(config_path) as handle:
        assert json.load(handle) == {"auths": {host: {"auth": base64.b64encode(b"alice:s3cret").decode()}}}
    berth(["push", "%s/private:1" % host], seed)
    env = {"BERTH_CONFIG": os.path.join(seed, "client-config")}
    puller = str(tmp_path / "puller")
    berth(["pull", "%s/private:1" % host], puller, env=env)
    assert Store(puller).resolve("%s/private:1" % host).id == image.id
    assert berth(["logout", host], seed).stdout == "Removing login credentials for %s\n" % host
    again = berth(["pull", "%s/private:1" % host], str(tmp_path / "again"), env=env, check=False)
    assert again.returncode == 1 and "requires authentication" in again.stderr


def test_tls_is_verified_against_the_test_ca_when_loopback_is_not_trusted(tls_registry, pki, tmp_path):
    certs = tmp_path / "certs.d" / tls_registry.host
    certs.mkdir(parents=True)
    with open(os.path.join(pki, "ca.crt"), "rb") as src:
        (certs / "ca.crt").write_bytes(src.read())
    creds = CredentialStore(str(tmp_path / "cfg"))
    creds.set(tls_registry.host, "alice", "s3cret")
    ref = reference.parse("%s/verified:1" % tls_registry.host)
    seed = str(tmp_path / "seed")
    make_image(Store(seed), IMAGE_LAYERS, [str(ref)])
    berth(["login", "-u", "alice", "--password-stdin", tls_registry.host], seed, input="s3cret\n")
    berth(["push", str(ref)], seed)
    trusted = Client(RegistryConfig(certs_dirs=[str(tmp_path / "certs.d")], loopback_insecure=False), creds)
    body, _media, _digest = Repository(trusted, ref).get_manifest("1")
    assert json.loads(body.decode())["schemaVersion"] == 2
    untrusted = Client(RegistryConfig(certs_dirs=[], loopback_insecure=False), creds)
    with pytest.raises(RegistryError) as info:
        Repository(untrusted, ref).get_manifest("1")
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


@pytest.fixture
def token_front(plain_registry):
    front = TokenAuthFront(plain_registry.host, {"tok": "pw"})
    yield front
    front.stop()


def test_token_auth_one_token_per_repository_scope(token_front, tmp_path):
    host = token_front.host
    seed = str(tmp_path / "seed")
    store = Store(seed)
    make_image(store, IMAGE_LAYERS, ["%s/team/one:1" % host])
    make_image(store, IMAGE_LAYERS[:1], ["%s/team/two:1" % host])
    anonymous = berth(["push", "%s/team/one:1" % host], seed, check=False)
    assert anonymous.returncode == 1
    assert "refused the credentials for %s (401)" % host in anonymous.stderr
    berth(["login", "-u", "tok", "--password-stdin", host], seed, input="pw\n")
    berth(["push", "%s/team/one:1" % host], seed)
    berth(["push", "%s/team/two:1" % host], seed)
    token_front.token_requests[:] = []
    env = {"BERTH_CONFIG": os.path.join(seed, "client-config")}
    puller = str(tmp_path / "puller")
    berth(["pull", "%s/team/one:1" % host], puller, env=env)
    berth(["pull", "%s/team/two:1" % host], puller, env=env)
    assert token_front.token_requests == [
        ("tok", TokenAuthFront.SERVICE, ["repository:team/one:pull"]),
        ("tok", TokenAuthFront.SERVICE, ["repository:team/two:pull"])]
    blob_auth = [auth for (method, path, _r, auth) in token_front.requests if "/blobs/" in path and method == "GET"]
    assert blob_auth and all(a.startswith("Bearer ") for a in blob_auth)


def test_token_server_refuses_wrong_password(token_front, tmp_path):
    cfg = CredentialStore(str(tmp_path / "cfg"))
    cfg.set(token_front.host, "tok", "wrong")
    client = Client(RegistryConfig(), cfg)
    with pytest.raises(AuthError) as info:
        Repository(client, reference.parse("%s/team/one:1" % token_front.host)).get_manifest("1")
    assert "refused the credentials" in str(info.value) and "(401)" in str(info.value)


def test_hub_mirrors_are_tried_in_order(plain_registry, tmp_path):
    seed = str(tmp_path / "seed")
    image = make_image(Store(seed), IMAGE_LAYERS, ["%s/library/mirrored:1" % plain_registry.host])
    berth(["push", "%s/library/mirrored:1" % plain_registry.host], seed)
    root = str(tmp_path / "root")
    dead = "http://127.0.0.1:9"
    out = berth(["--registry-mirror", dead, "--registry-mirror", "http://%s" % plain_registry.host,
                 "pull", "mirrored:1"], root).stdout.splitlines()
    assert out[0] == "1: Pulling from library/mirrored"
    assert out[-1] == "docker.io/library/mirrored:1"
    resolved = Store(root).resolve("mirrored:1")
    assert (resolved.id, resolved.repo_tags) == (image.id, ["mirrored:1"])
    missing = berth(["--registry-mirror", dead, "pull", "mirrored:1"], str(tmp_path / "r2"), check=False,
                    env={"BERTH_REGISTRY_TIMEOUT": "2"})
    assert missing.returncode == 1
    assert "http://127.0.0.1:9: connection refused" in missing.stderr
    assert "https://registry-1.docker.io" in missing.stderr


def test_blob_redirects_are_followed_without_credentials(plain_registry, tmp_path):
    """A registry that sends blobs to a CDN (307): the token must not follow the redirect."""
    from proxies import Front
    cdn = Front(plain_registry.host)
    front = TokenAuthFront(plain_registry.host, {"tok": "pw"}, redirect_blobs_to=cdn.host)
    try:
        seed = str(tmp_path / "seed")
        make_image(Store(seed), IMAGE_LAYERS, ["%s/cdn/app:1" % front.host])
        berth(["login", "-u", "tok", "--password-stdin", front.host], seed, input="pw\n")
        berth(["push", "%s/cdn/app:1" % front.host], seed)
        env = {"BERTH_CONFIG": os.path.join(seed, "client-config")}
        puller = str(tmp_path / "puller")
        berth(["pull", "%s/cdn/app:1" % front.host], puller, env=env)
        assert Store(puller).resolve("%s/cdn/app:1" % front.host).diff_ids == [
            layer["diff_id"] for layer in Store(seed).resolve("%s/cdn/app:1" % front.host).layers]
        cdn_gets = [(path, auth) for (method, path, _r, auth) in cdn.requests if method == "GET"]
        assert len(cdn_gets) == 3
        assert all(auth is None for _path, auth in cdn_gets)
    finally:
        front.stop()
        cdn.stop()
