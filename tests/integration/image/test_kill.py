"""SIGKILL a pull at many points: the store stays usable and a re-pull succeeds."""
import json
import os
import random
import signal
import subprocess
import time

import pytest
from berth.runtime.image.store import Store
from imagehelp import layer_tar, make_image
from regfix import BERTH, berth


def many_files(prefix, count, size, rng):
    return {"%s/f%04d" % (prefix, i): rng.getrandbits(8 * size).to_bytes(size, "little") for i in range(count)}


@pytest.fixture(scope="module")
def big_image(plain_registry, tmp_path_factory):
    rng = random.Random(6)
    seed = str(tmp_path_factory.mktemp("seed-kill"))
    layers = [layer_tar(many_files("l%d" % n, 600, 6000, rng)) for n in range(4)]
    image = make_image(Store(seed), layers, ["%s/killme:1" % plain_registry.host])
    berth(["push", "%s/killme:1" % plain_registry.host], seed)
    return image, "%s/killme:1" % plain_registry.host


def check_consistent(root):
    """Every command still works and every committed object is complete."""
    listing = berth(["images", "--no-trunc", "-q"], root).stdout.split()
    store = Store(root)
    for name in os.listdir(store.layer_dir):
        assert os.path.exists(os.path.join(store.layer_dir, name, "layer.json")), name
    for image_id in listing:
        image = store.resolve(image_id)
        assert all(os.path.isdir(d) for d in store.layer_dirs(image))
    if os.path.exists(store.index_path):
        with open(store.index_path) as handle:
            assert set(json.load(handle)) >= {"tags", "digests"}


def test_sigkill_at_many_points_then_repull(big_image, root):
    image, ref = big_image
    started = time.time()
    berth(["pull", ref], str(root) + "-timing")
    duration = time.time() - started
    env = dict(os.environ, BERTH_CONFIG=os.path.join(root, "cfg"), BERTH_DAEMON_CONFIG="/nonexistent")
    rng = random.Random(66)
    kills = 0
    for fraction in (0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0):
        proc = subprocess.Popen([BERTH, "--root", root, "pull", ref], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction * rng.uniform(0.8, 1.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        check_consistent(root)
        if proc.returncode == 0:
            berth(["rmi", ref], root)
    assert kills >= 4
    out = berth(["pull", ref], root).stdout
    assert "Status:" in out
    store = Store(root)
    pulled = store.resolve(ref)
    assert pulled.id == image.id
    for layer_dir, n in zip(store.layer_dirs(pulled), range(4)):
        assert len(os.listdir(os.path.join(layer_dir, "l%d" % n))) == 600
    assert os.listdir(store.tmp_dir) == []
    berth(["rmi", ref], root)
    assert os.listdir(store.layer_dir) == []
