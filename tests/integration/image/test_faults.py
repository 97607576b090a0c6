"""Blob downloads through a fault-injecting proxy in front of a real registry."""
import os

import pytest
from berth.runtime.image.store import Store
from imagehelp import layer_tar, make_image
from proxies import FaultProxy
from regfix import berth

PAYLOAD = os.urandom(3 * 1024 * 1024)
FAST = {"BERTH_REGISTRY_BACKOFF": "0.05"}


@pytest.fixture(scope="module")
def faulty(plain_registry, tmp_path_factory):
    seed = str(tmp_path_factory.mktemp("seed-faults"))
    image = make_image(Store(seed), [layer_tar({"etc/base": b"b"}), layer_tar({"data/blob": PAYLOAD})],
                       ["%s/fault:1" % plain_registry.host])
    berth(["push", "%s/fault:1" % plain_registry.host], seed)
    proxy = FaultProxy(plain_registry.host)
    yield proxy, image
    proxy.stop()


@pytest.fixture
def image(faulty):
    return faulty[1]


@pytest.fixture
def proxy(faulty):
    proxy, image = faulty
    proxy.target = image.layers[1]["digest"]
    proxy.count = 0
    proxy.requests = []
    yield proxy
    proxy.mode = None


def assert_store_has_nothing(root, image):
    """No image record, no trace of the failed layer, no scratch; only the verified base may stay."""
    store = Store(root)
    assert store.images() == []
    assert os.listdir(store.image_dir) == []
    assert os.listdir(store.tmp_dir) == []
    base = image.layers[0]["chain_id"][7:]
    assert set(os.listdir(store.layer_dir)) <= {base}
    assert not store.has_layer(image.layers[1]["chain_id"])
    assert set(os.listdir(store.blob_dir)) <= {image.layers[0]["digest"][7:]}


def pulled_payload(root, ref):
    store = Store(root)
    with open(os.path.join(store.layer_dirs(ref)[1], "data/blob"), "rb") as handle:
        return handle.read()


def test_dropped_connection_is_resumed_with_range(proxy, root):
    proxy.mode = "drop"
    ref = "%s/fault:1" % proxy.host
    berth(["pull", ref], root, env=FAST)
    ranges = [r for (method, path, r, _auth) in proxy.requests if path.endswith(proxy.target) and r]
    assert len(ranges) == 1 and ranges[0] != "bytes=0-" and ranges[0].startswith("bytes=")
    assert pulled_payload(root, ref) == PAYLOAD


def test_flipped_byte_fails_naming_the_blob_and_commits_nothing(proxy, image, root):
    proxy.mode = "flip"
    result = berth(["pull", "%s/fault:1" % proxy.host], root, env=FAST, check=False)
    assert result.returncode == 1
    assert "filesystem layer verification failed for digest %s" % proxy.target in result.stderr
    assert_store_has_nothing(root, image)


def test_server_ignoring_range_sends_full_body_which_is_accepted(proxy, root):
    proxy.mode = "ignore-range"
    ref = "%s/fault:1" % proxy.host
    berth(["pull", ref], root, env=FAST)
    assert proxy.count == 2
    assert pulled_payload(root, ref) == PAYLOAD


def test_two_500s_are_retried(proxy, root):
    proxy.mode = "500"
    ref = "%s/fault:1" % proxy.host
    out = berth(["pull", ref], root, env=FAST).stdout
    assert proxy.count == 3
    assert "Retrying (2)" in out
    assert pulled_payload(root, ref) == PAYLOAD


def test_stall_times_out_with_a_clear_error(proxy, image, root):
    proxy.mode = "stall"
    proxy.stall_seconds = 3
    env = dict(FAST, BERTH_REGISTRY_TIMEOUT="1", BERTH_REGISTRY_ATTEMPTS="2")
    result = berth(["pull", "%s/fault:1" % proxy.host], root, env=env, check=False)
    assert result.returncode == 1
    assert ("downloading blob %s from %s failed after 2 attempts: timed out after 1s without data"
            % (proxy.target, proxy.host)) in result.stderr
    assert_store_has_nothing(root, image)


def test_layers_download_three_at_a_time(plain_registry, faulty, tmp_path):
    proxy = faulty[0]
    seed = str(tmp_path / "seed")
    host = plain_registry.host
    make_image(Store(seed), [layer_tar({"n%d" % n: b"x" * n}) for n in range(6)], ["%s/wide:1" % host])
    berth(["push", "%s/wide:1" % host], seed)
    proxy.mode = "slow"
    proxy.max_active = 0
    try:
        root = str(tmp_path / "root")
        berth(["pull", "%s/wide:1" % proxy.host], root)
    finally:
        proxy.mode = None
    assert proxy.max_active == 3
    assert len(Store(root).layer_dirs("%s/wide:1" % proxy.host)) == 6
