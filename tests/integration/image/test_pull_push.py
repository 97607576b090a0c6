"""Pull, push, images, inspect, tag, rmi, import against a real docker-registry (plain HTTP on loopback)."""
import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess

import pytest
from berth.runtime.image.store import Store
from imagehelp import layer_tar, make_image
from regfix import BERTH, berth

BASE = layer_tar({"etc/os-release": b"ID=berth\n", "etc/passwd": b"root:x:0:0\n", "bin/sh": b"#!sh\n"},
                 symlinks={"etc/localtime": "/usr/share/zoneinfo/UTC"})
APP = layer_tar({"app/run": b"run\n"}, whiteouts=["etc/passwd"])
TOOLS = layer_tar({"etc/tools": b"t\n"}, opaque=["etc"])


@pytest.fixture(scope="module")
def seeded(plain_registry, tmp_path_factory):
    """Two multi-layer images sharing a base, pushed with ``berth push``."""
    seed = str(tmp_path_factory.mktemp("seed"))
    store = Store(seed)
    host = plain_registry.host
    app = make_image(store, [BASE, APP], ["%s/app:1" % host], cmd=["/app/run"])
    tools = make_image(store, [BASE, TOOLS], ["%s/tools:1" % host])
    first = berth(["push", "%s/app:1" % host], seed).stdout
    second = berth(["push", "%s/tools:1" % host], seed).stdout
    return {"host": host, "app": app, "tools": tools, "push_app": first, "push_tools": second, "seed": seed}


def test_push_output_and_shared_blob_skipped(seeded):
    lines = seeded["push_app"].splitlines()
    assert lines[0] == "The push refers to repository [%s/app]" % seeded["host"]
    assert lines[-1].startswith("1: digest: sha256:")
    tools = seeded["push_tools"].splitlines()
    base_short = seeded["tools"].layers[0]["diff_id"][7:19]
    assert "%s: Mounted from app" % base_short in tools
    assert "%s: Pushed" % base_short in lines


def test_pull_then_shared_base_is_not_downloaded_again(seeded, root):
    host = seeded["host"]
    out = berth(["pull", "%s/app:1" % host], root).stdout.splitlines()
    app = seeded["app"]
    assert out[0] == "1: Pulling from app"
    assert "%s: Pull complete" % app.layers[0]["digest"][7:19] in out
    assert out[-2] == "Status: Downloaded newer image for %s/app:1" % host
    assert out[-1] == "%s/app:1" % host
    out = berth(["pull", "%s/tools:1" % host], root).stdout.splitlines()
    tools = seeded["tools"]
    assert "%s: Already exists" % tools.layers[0]["digest"][7:19] in out
    assert "%s: Pull complete" % tools.layers[1]["digest"][7:19] in out
    store = Store(root)
    assert store.resolve("%s/app:1" % host).id == app.id
    dirs = store.layer_dirs(store.resolve("%s/tools:1" % host))
    assert dirs[0] == store.layer_dirs(store.resolve("%s/app:1" % host))[0]
    assert os.readlink(os.path.join(dirs[0], "etc/localtime")) == "/usr/share/zoneinfo/UTC"
    assert os.getxattr(os.path.join(dirs[1], "etc"), "trusted.overlay.opaque") == b"y"
    whiteout = os.lstat(os.path.join(store.layer_dirs(app.id)[1], "etc/passwd"))
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0


def test_warm_repull_is_up_to_date(seeded, root):
    host = seeded["host"]
    berth(["pull", "%s/app:1" % host], root)
    out = berth(["pull", "%s/app:1" % host], root).stdout.splitlines()
    assert out[1].startswith("Digest: sha256:")
    assert out[2] == "Status: Image is up to date for %s/app:1" % host


def test_images_inspect_tag_rmi(seeded, root):
    host = seeded["host"]
    app = seeded["app"]
    berth(["pull", "%s/app:1" % host], root)
    berth(["tag", "%s/app:1" % host, "myapp:v2"], root)
    lines = berth(["images"], root).stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    rows = sorted(line.split()[:3] for line in lines[1:])
    assert rows == [["%s/app" % host, "1", app.id[7:19]], ["myapp", "v2", app.id[7:19]]]
    assert berth(["images", "-q"], root).stdout.split() == [app.id[7:19]] * 2
    assert berth(["images", "--no-trunc", "-q", "myapp"], root).stdout.split() == [app.id]
    fmt = berth(["images", "--format", "{{.Repository}}:{{.Tag}}", "-f", "reference=myapp:*"], root).stdout
    assert fmt == "myapp:v2\n"
    digests = berth(["images", "--digests", "--format", "{{.Digest}}", "%s/app" % host], root).stdout.split()
    assert len(digests) == 1 and digests[0].startswith("sha256:")
    doc = json.loads(berth(["image", "inspect", "myapp:v2"], root).stdout)[0]
    assert doc["Id"] == app.id
    assert sorted(doc["RepoTags"]) == ["%s/app:1" % host, "myapp:v2"]
    assert doc["Config"]["Cmd"] == ["/app/run"]
    assert doc["RootFS"]["Layers"] == app.diff_ids
    assert berth(["inspect", "--format", "{{json .Config.Cmd}}", "myapp:v2"], root).stdout == '["/app/run"]\n'
    conflict = berth(["rmi", app.id[7:19]], root, check=False)
    assert conflict.returncode == 1
    assert "must be forced" in conflict.stderr
    assert berth(["rmi", "myapp:v2"], root).stdout == "Untagged: myapp:v2\n"
    out = berth(["rmi", "%s/app:1" % host], root).stdout.splitlines()
    assert out[0] == "Untagged: %s/app:1" % host
    assert "Deleted: %s" % app.id in out
    assert berth(["images", "-q"], root).stdout == ""
    missing = berth(["rmi", "nosuch:1"], root, check=False)
    assert (missing.returncode, missing.stderr) == (1, "Error: No such image: nosuch:1\n")


def test_import_a_rootfs_then_push_and_pull_it(plain_registry, root, tmp_path):
    src = tmp_path / "rootfs"
    (src / "etc").mkdir(parents=True)
    (src / "etc/motd").write_bytes(b"imported\n")
    tarball = tmp_path / "rootfs.tar"
    subprocess.check_call(["tar", "-C", str(src), "-cf", str(tarball), "."])
    ref = "%s/imported:v1" % plain_registry.host
    image_id = berth(["import", "-c", "CMD [\"/bin/true\"]", "-c", "ENV A=1", str(tarball), ref],
                     root).stdout.strip()
    store = Store(root)
    image = store.resolve(ref)
    assert image.id == image_id
    assert image.config["config"] == {"Cmd": ["/bin/true"], "Env": ["A=1"]}
    with open(str(tarball), "rb") as handle:
        assert image.diff_ids == ["sha256:" + hashlib.sha256(handle.read()).hexdigest()]
    berth(["push", ref], root)
    other = str(tmp_path / "other")
    berth(["pull", ref], other)
    with open(os.path.join(Store(other).layer_dirs(ref)[0], "etc/motd"), "rb") as handle:
        assert handle.read() == b"imported\n"


def test_pull_errors_are_clear(plain_registry, root):
    missing = berth(["pull", "%s/nosuch:1" % plain_registry.host], root, check=False)
    assert missing.returncode == 1
    assert "manifest for %s/nosuch:1 not found" % plain_registry.host in missing.stderr
    bad = berth(["pull", "Bad/Name"], root, check=False)
    assert (bad.returncode, bad.stderr) == (
        1, "Error: invalid reference format: repository name 'Bad/Name' must be lowercase\n")


def test_manifest_list_selects_this_platform(seeded, root):
    import http.client
    host = seeded["host"]
    conn = http.client.HTTPConnection(host)
    conn.request("GET", "/v2/app/manifests/1",
                 headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    resp = conn.getresponse()
    manifest = resp.read()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest,
         "size": len(manifest), "platform": {"os": "linux", "architecture": "s390x"}},
        {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest,
         "size": len(manifest), "platform": {"os": "linux", "architecture": "amd64"}}]}
    body = json.dumps(index).encode()
    conn.request("PUT", "/v2/app/manifests/multi", body=body,
                 headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert conn.getresponse().status == 201
    out = berth(["pull", "%s/app:multi" % host], root).stdout
    assert "Digest: sha256:%s" % hashlib.sha256(body).hexdigest() in out
    assert Store(root).resolve("%s/app:multi" % host).id == seeded["app"].id
    wrong = berth(["pull", "--platform", "linux/riscv64", "%s/app:multi" % host], str(root) + "2", check=False)
    assert "no matching manifest for linux/riscv64" in wrong.stderr


def test_skopeo_reads_what_berth_pushed_and_berth_pulls_what_skopeo_pushed(seeded, root, tmp_path):
    host = seeded["host"]
    layout = str(tmp_path / "oci")
    subprocess.check_call(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                           "docker://%s/app:1" % host, "oci:%s:app" % layout])
    with open(os.path.join(layout, "index.json")) as handle:
        index = json.load(handle)
    assert len(index["manifests"]) == 1
    subprocess.check_call(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                           "oci:%s:app" % layout, "docker://%s/from-skopeo:oci" % host])
    berth(["pull", "%s/from-skopeo:oci" % host], root)
    image = Store(root).resolve("%s/from-skopeo:oci" % host)
    assert image.diff_ids == seeded["app"].diff_ids
    with open(os.path.join(Store(root).layer_dirs(image)[1], "app/run"), "rb") as handle:
        assert handle.read() == b"run\n"


def test_dockerd_pulls_what_berth_pushed(seeded):
    ref = "%s/app:1" % seeded["host"]
    proc = subprocess.run(["docker", "pull", ref], check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    try:
        assert proc.returncode == 0, proc.stdout
        layers = subprocess.check_output(["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}",
                                          ref], universal_newlines=True)
        assert json.loads(layers) == seeded["app"].diff_ids
    finally:
        subprocess.run(["docker", "rmi", ref], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _upload(conn, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    conn.request("POST", "/v2/%s/blobs/uploads/" % repo, body=b"", headers={"Content-Length": "0"})
    resp = conn.getresponse()
    resp.read()
    location = resp.getheader("Location")
    path = location.split("://", 1)[-1]
    path = path[path.index("/"):] if not location.startswith("/") else location
    conn.request("PUT", path + ("&" if "?" in path else "?") + "digest=" + digest, body=data,
                 headers={"Content-Type": "application/octet-stream"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201
    return digest


OCI_MEDIA = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json",
             "application/vnd.oci.image.layer.v1.tar+zstd")
DOCKER_MEDIA = ("application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip")


def _push_by_hand(registry, repo, packed_layer, config, media):
    """A one-layer image written to the registry blob by blob, exactly as given (berth would refuse
    to make some of them): returns (layer digest, config digest)."""
    import http.client
    manifest_type, config_type, layer_type = media
    conn = http.client.HTTPConnection(registry.host)
    layer_digest = _upload(conn, repo, packed_layer)
    config_digest = _upload(conn, repo, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": len(packed_layer)}]}).encode()
    conn.request("PUT", "/v2/%s/manifests/1" % repo, body=manifest, headers={"Content-Type": manifest_type})
    assert conn.getresponse().status == 201
    return layer_digest, config_digest


@pytest.mark.skipif(not shutil.which("zstd"), reason="needs the zstd program to make and decode the layer")
def test_oci_image_with_a_zstd_layer(plain_registry, root, tmp_path):
    raw = layer_tar({"etc/zstd": b"compressed with zstd\n"})
    packed = subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}
                         }).encode()
    _layer_digest, config_digest = _push_by_hand(plain_registry, "zstd", packed, config, OCI_MEDIA)
    ref = "%s/zstd:1" % plain_registry.host
    berth(["pull", ref], root)
    store = Store(root)
    with open(os.path.join(store.layer_dirs(ref)[0], "etc/zstd"), "rb") as handle:
        assert handle.read() == b"compressed with zstd\n"
    berth(["tag", ref, "%s/zstd-copy:1" % plain_registry.host], root)
    berth(["push", "%s/zstd-copy:1" % plain_registry.host], root)
    again = str(tmp_path / "again")
    berth(["pull", "%s/zstd-copy:1" % plain_registry.host], again)
    assert Store(again).resolve("%s/zstd-copy:1" % plain_registry.host).id == config_digest


def test_progress_display_on_a_terminal(seeded, root):
    """On a tty each layer gets one line, redrawn in place with a progress bar."""
    import pty
    import select
    primary, secondary = pty.openpty()
    env = dict(os.environ, BERTH_CONFIG=os.path.join(root, "cfg"), BERTH_DAEMON_CONFIG="/nonexistent")
    proc = subprocess.Popen([BERTH, "--root", root, "pull", "%s/app:1" % seeded["host"]], stdout=secondary,
                            stderr=secondary, env=env)
    os.close(secondary)
    output = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(primary, 65536)
        except OSError:
            break
        if not data:
            break
        output += data
    assert proc.wait(30) == 0
    os.close(primary)
    text = output.decode()
    assert "Pulling fs layer" in text
    assert "\x1b[2K" in text and "\x1b[1A" in text
    assert "Pull complete" in text
    assert text.rstrip().endswith("%s/app:1" % seeded["host"])


def test_layer_not_matching_the_config_diff_id_is_refused(plain_registry, root):
    raw = layer_tar({"etc/real": b"real\n"})
    packed = gzip.compress(raw)
    lie = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [lie]}}).encode()
    layer_digest, _config_digest = _push_by_hand(plain_registry, "liar", packed, config, DOCKER_MEDIA)
    result = berth(["pull", "%s/liar:1" % plain_registry.host], root, check=False)
    assert result.returncode == 1
    assert ("Error: layer %s: uncompressed content hashes to sha256:%s, but the image config says DiffID %s\n"
            % (layer_digest, hashlib.sha256(raw).hexdigest(), lie)) == result.stderr
    store = Store(root)
    assert (store.images(), os.listdir(store.layer_dir), os.listdir(store.tmp_dir)) == ([], [], [])


def test_dangling_and_label_filters(root):
    store = Store(root)
    first = make_image(store, [layer_tar({"a": b"1"})], ["moving:1"], created="2026-01-01T00:00:00Z")
    second = make_image(store, [layer_tar({"a": b"2"})], [], created="2026-02-01T00:00:00Z")
    berth(["tag", second.id, "moving:1"], root)
    assert berth(["images", "-q", "--no-trunc", "-f", "dangling=true"], root).stdout.split() == [first.id]
    assert berth(["images", "-q", "--no-trunc", "-f", "dangling=false"], root).stdout.split() == [second.id]
    table = berth(["images"], root).stdout.splitlines()
    assert table[2].split()[:3] == ["<none>", "<none>", first.id[7:19]]
    assert berth(["images", "-q", "-f", "before=moving:1", "--no-trunc"], root).stdout.split() == [first.id]
    assert berth(["images", "-q", "-f", "label=nosuch"], root).stdout == ""


def test_pull_all_tags(plain_registry, tmp_path):
    seed = str(tmp_path / "seed")
    store = Store(seed)
    host = plain_registry.host
    one = make_image(store, [layer_tar({"v": b"1"})], ["%s/alltags:v1" % host])
    two = make_image(store, [layer_tar({"v": b"2"})], ["%s/alltags:v2" % host])
    berth(["push", "--all-tags", "%s/alltags" % host], seed)
    root = str(tmp_path / "root")
    out = berth(["pull", "-a", "%s/alltags" % host], root).stdout.splitlines()
    assert out[0] == "v1: Pulling from alltags"
    assert out[-2:] == ["Status: Downloaded newer image for %s/alltags" % host, "%s/alltags" % host]
    pulled = Store(root)
    assert [pulled.resolve("%s/alltags:v%d" % (host, n)).id for n in (1, 2)] == [one.id, two.id]
    default = berth(["pull", "%s/alltags:v1" % host], root).stdout.splitlines()
    assert default[-1] == "%s/alltags:v1" % host
