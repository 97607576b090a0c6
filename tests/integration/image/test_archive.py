"""save/load in Docker's archive format, both ways with the real dockerd, and import variants."""
import gzip
import io
import json
import os
import subprocess
import tarfile

import pytest
from berth.runtime.image.store import Store
from imagehelp import layer_tar, make_image
from regfix import BERTH, berth

LAYERS = [layer_tar({"etc/base": b"base\n", "etc/gone": b"x"}, symlinks={"etc/link": "/etc/base"}),
          layer_tar({"app/run": b"run\n"}, whiteouts=["etc/gone"])]


@pytest.fixture
def source(tmp_path):
    root = str(tmp_path / "src")
    image = make_image(Store(root), LAYERS, ["saveme:1"], cmd=["/app/run"])
    return root, image


def test_save_writes_docker_archive_and_load_round_trips(source, tmp_path):
    root, image = source
    archive = str(tmp_path / "out.tar")
    berth(["save", "-o", archive, "saveme:1"], root)
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read().decode())
        assert manifest == [{"Config": "blobs/sha256/" + image.id[7:], "RepoTags": ["saveme:1"],
                             "Layers": ["blobs/sha256/" + d[7:] for d in image.diff_ids]}]
        assert json.loads(tar.extractfile("repositories").read().decode()) == {"saveme": {"1": image.id[7:]}}
    other = str(tmp_path / "other")
    assert berth(["load", "-i", archive], other).stdout == "Loaded image: saveme:1\n"
    loaded = Store(other).resolve("saveme:1")
    assert (loaded.id, loaded.diff_ids) == (image.id, image.diff_ids)
    piped = str(tmp_path / "piped")
    env = dict(os.environ, BERTH_DAEMON_CONFIG="/nonexistent", BERTH_CONFIG=str(tmp_path / "cfg"))
    save = subprocess.Popen([BERTH, "--root", root, "save", "saveme:1"], stdout=subprocess.PIPE, env=env)
    out = subprocess.check_output([BERTH, "--root", piped, "load"], stdin=save.stdout, env=env,
                                  universal_newlines=True)
    assert save.wait() == 0
    assert out == "Loaded image: saveme:1\n"
    assert Store(piped).resolve("saveme:1").id == image.id


def test_dockerd_loads_what_berth_saved(source, tmp_path):
    root, image = source
    archive = str(tmp_path / "for-docker.tar")
    berth(["tag", "saveme:1", "berth-test/saveme:loaded"], root)
    berth(["save", "-o", archive, "berth-test/saveme:loaded"], root)
    try:
        out = subprocess.check_output(["docker", "load", "-i", archive], universal_newlines=True)
        assert "Loaded image: berth-test/saveme:loaded" in out
        inspected = subprocess.check_output(["docker", "image", "inspect", "--format", "{{.Id}} {{json .Config.Cmd}}",
                                             "berth-test/saveme:loaded"], universal_newlines=True)
        assert inspected.strip() == '%s ["/app/run"]' % image.id
    finally:
        subprocess.run(["docker", "rmi", "berth-test/saveme:loaded"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_berth_loads_what_dockerd_saved(source, plain_registry, tmp_path):
    root, image = source
    ref = "%s/saveme:docker" % plain_registry.host
    berth(["tag", "saveme:1", ref], root)
    berth(["push", ref], root)
    archive = str(tmp_path / "from-docker.tar")
    try:
        subprocess.check_call(["docker", "pull", "-q", ref], stdout=subprocess.DEVNULL)
        subprocess.check_call(["docker", "save", "-o", archive, ref])
    finally:
        subprocess.run(["docker", "rmi", ref], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    other = str(tmp_path / "other")
    assert berth(["load", "-i", archive], other).stdout == "Loaded image: %s\n" % ref
    store = Store(other)
    loaded = store.resolve(ref)
    assert (loaded.id, loaded.diff_ids) == (image.id, image.diff_ids)
    with open(os.path.join(store.layer_dirs(loaded)[1], "app/run"), "rb") as handle:
        assert handle.read() == b"run\n"


def test_load_refuses_a_layer_that_does_not_match_its_diff_id(source, tmp_path):
    root, _image = source
    archive = str(tmp_path / "out.tar")
    berth(["save", "-o", archive, "saveme:1"], root)
    tampered = str(tmp_path / "tampered.tar")
    with tarfile.open(archive) as src, tarfile.open(tampered, "w") as dst:
        manifest = json.loads(src.extractfile("manifest.json").read().decode())
        victim = manifest[0]["Layers"][1]
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == victim:
                data = layer_tar({"app/run": b"evil\n"})
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    other = str(tmp_path / "other")
    result = berth(["load", "-i", tampered], other, check=False)
    assert result.returncode == 1
    assert "but the image config says DiffID" in result.stderr
    assert Store(other).images() == []


@pytest.mark.parametrize("compress", ["none", "gzip", "xz"])
def test_import_accepts_plain_and_compressed_tarballs(compress, tmp_path):
    raw = layer_tar({"etc/motd": b"hi\n"})
    data = {"none": raw, "gzip": gzip.compress(raw)}.get(compress)
    if compress == "xz":
        import lzma
        data = lzma.compress(raw)
    path = tmp_path / ("rootfs.tar." + compress)
    path.write_bytes(data)
    root = str(tmp_path / "root")
    image_id = berth(["import", "-m", "from test", str(path), "imported:" + compress], root).stdout.strip()
    store = Store(root)
    image = store.resolve("imported:" + compress)
    assert image.id == image_id
    assert image.config["history"] == [{"created": image.config["created"], "comment": "from test"}]
    with open(os.path.join(store.layer_dirs(image)[0], "etc/motd"), "rb") as handle:
        assert handle.read() == b"hi\n"
    with open(store.blob_path(image.layers[0]["digest"]), "rb") as handle:
        assert handle.read(2) == b"\x1f\x8b"
