import os
import stat
import sys

import pytest
from berth.runtime.image.errors import BerthError, ImageConflict, ImageNotFound
from berth.runtime.image.store import Store, chain_ids

sys.path.insert(0, os.path.dirname(__file__))
from imagehelp import layer_tar, make_image  # noqa: E402

BASE = layer_tar({"etc/os-release": b"berth\n", "bin/sh": b"sh", "etc/passwd": b"root\n"})
APP = layer_tar({"app/run": b"run"}, whiteouts=["etc/passwd"])
OTHER = layer_tar({"other/x": b"x"}, opaque=["etc"])


@pytest.fixture
def store(tmp_path):
    checkers = list(Store.in_use_checkers)
    yield Store(str(tmp_path / "berth"))
    Store.in_use_checkers[:] = checkers


def test_chain_ids_follow_the_spec():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    import hashlib
    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256((a + " " + b).encode()).hexdigest()]


def test_resolve_by_tag_id_and_prefix(store):
    image = make_image(store, [BASE], ["base:1"])
    assert store.resolve("base:1").id == image.id
    assert store.resolve("docker.io/library/base:1").id == image.id
    assert store.resolve(image.id).id == image.id
    assert store.resolve(image.id[7:19]).id == image.id
    assert store.resolve("sha256:" + image.id[7:15]).id == image.id
    assert store.resolve("base:1").repo_tags == ["base:1"]
    assert store.resolve("base:1").config["config"]["Cmd"] == ["/bin/sh"]
    with pytest.raises(ImageNotFound) as info:
        store.resolve("base:2")
    assert str(info.value) == "No such image: base:2"
    assert isinstance(info.value, BerthError)


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts need root")
def test_layer_dirs_lowest_first_with_overlay_whiteouts(store):
    image = make_image(store, [BASE, APP], ["app:1"])
    dirs = store.layer_dirs(image)
    assert len(dirs) == 2 and all(os.path.isabs(d) for d in dirs)
    with open(os.path.join(dirs[0], "etc/os-release"), "rb") as handle:
        assert handle.read() == b"berth\n"
    whiteout = os.lstat(os.path.join(dirs[1], "etc/passwd"))
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert store.layer_dirs("app:1") == dirs


def test_shared_base_layer_is_stored_once(store):
    one = make_image(store, [BASE, APP], ["one:1"])
    two = make_image(store, [BASE, OTHER], ["two:1"])
    assert store.layer_dirs(one)[0] == store.layer_dirs(two)[0]
    assert len(os.listdir(store.layer_dir)) == 3


def test_rmi_removes_only_unreferenced_layers(store):
    one = make_image(store, [BASE, APP], ["one:1"])
    two = make_image(store, [BASE, OTHER], ["two:1"])
    base_dir, app_dir = store.layer_dirs(one)
    events = store.remove("one:1")
    assert events == [("Untagged", "one:1"), ("Deleted", one.id), ("Deleted", one.layers[1]["chain_id"])]
    assert os.path.isdir(base_dir) and not os.path.exists(app_dir)
    assert not store.has_blob(one.id) and not store.has_blob(one.layers[1]["digest"])
    assert store.has_blob(one.layers[0]["digest"])
    store.remove("two:1")
    assert os.listdir(store.layer_dir) == [] and os.listdir(store.image_dir) == []
    assert os.listdir(store.blob_dir) == [] and os.listdir(store.tmp_dir) == []
    del two


def test_rmi_of_one_tag_among_several_only_untags(store):
    image = make_image(store, [BASE], ["a:1"])
    store.tag("a:1", "b:2")
    assert store.remove("b:2") == [("Untagged", "b:2")]
    assert store.resolve(image.id).repo_tags == ["a:1"]


def test_rmi_by_id_with_several_tags_needs_force(store):
    image = make_image(store, [BASE], ["a:1"])
    store.tag("a:1", "b:2")
    with pytest.raises(ImageConflict) as info:
        store.remove(image.id[7:19])
    assert str(info.value) == ("conflict: unable to delete %s (must be forced) - image is referenced in "
                               "multiple repositories" % image.id[7:19])
    events = store.remove(image.id[7:19], force=True)
    assert events[:2] == [("Untagged", "a:1"), ("Untagged", "b:2")]
    assert events[2] == ("Deleted", image.id)


def test_rmi_refuses_an_image_used_by_a_container(store):
    image = make_image(store, [BASE], ["a:1"])
    Store.in_use_checkers.append(lambda s: {image.id})
    assert store.image_users(image.id)
    with pytest.raises(ImageConflict) as info:
        store.remove("a:1")
    assert "must force" in str(info.value)
    assert store.remove("a:1", force=True) == [("Untagged", "a:1")]
    assert store.layer_dirs(image.id) == store.layer_dirs(image)
    assert all(os.path.isdir(d) for d in store.layer_dirs(image.id))


def test_stale_work_of_a_dead_process_is_removed(store):
    os.makedirs(os.path.join(store.tmp_dir, "deadbeef", "layer"))
    with store.work() as live:
        assert store.remove_stale_work() == 1
        assert os.path.isdir(live.path)
    assert os.listdir(store.tmp_dir) == []


def test_images_listing_newest_first(store):
    old = make_image(store, [BASE], ["old:1"], created="2025-01-01T00:00:00Z")
    new = make_image(store, [APP], ["new:1"], created="2026-06-01T00:00:00Z")
    assert [i.id for i in store.images()] == [new.id, old.id]


def test_orphan_lock_file_of_a_dead_process_is_removed(store):
    with open(os.path.join(store.tmp_dir, "0123.lock"), "w"):
        pass
    assert store.remove_stale_work() == 1
    assert os.listdir(store.tmp_dir) == []


def test_rmi_of_last_tag_with_digest_of_an_image_in_use_untags_then_refuses(store):
    image = make_image(store, [BASE], ["a:1"])
    store.add_reference(image.id, "docker.io/library/a@sha256:" + "d" * 64, digest=True)
    Store.in_use_checkers.append(lambda s: {image.id})
    with pytest.raises(ImageConflict) as info:
        store.remove("a:1")
    assert str(info.value) == ("conflict: unable to delete %s (must be forced) - image is being used by a "
                               "container" % image.id[7:19])
    kept = store.resolve(image.id)
    assert (kept.repo_tags, kept.repo_digests) == ([], [])
