"""search: a private registry's catalog, and Docker Hub's search API.

Docker Hub cannot be reached from here, so its search endpoint is played by a
small HTTP server speaking the same API (``/v1/search?q=&n=``) on loopback.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from berth.runtime.image.store import Store
from imagehelp import layer_tar, make_image
from regfix import berth

HUB_RESULTS = [
    {"name": "centos", "description": "DEPRECATED; The official build of CentOS.", "star_count": 7766,
     "is_official": True, "is_automated": False},
    {"name": "someone/centos-tools", "description": "A very long description that goes on and on past the "
     "forty-five character limit", "star_count": 12, "is_official": False, "is_automated": True},
    {"name": "other/centos", "description": "", "star_count": 0, "is_official": False, "is_automated": False},
]


@pytest.fixture
def hub():
    queries = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            parts = urlsplit(self.path)
            queries.append((parts.path, parse_qs(parts.query)))
            limit = int(parse_qs(parts.query).get("n", ["25"])[0])
            body = json.dumps({"num_results": len(HUB_RESULTS), "query": "centos",
                               "results": HUB_RESULTS[:limit]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1], queries
    server.shutdown()
    server.server_close()


def test_hub_search_table_truncation_and_filters(hub, root):
    url, queries = hub
    env = {"BERTH_INDEX_URL": url}
    out = berth(["search", "centos"], root, env=env).stdout.splitlines()
    assert queries[-1] == ("/v1/search", {"q": ["centos"], "n": ["25"]})
    assert out[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"]
    assert out[1].split()[-2:] == ["7766", "[OK]"]
    assert "A very long description that goes on and on \u2026" in out[2]
    assert len(out) == 4
    full = berth(["search", "--no-trunc", "centos"], root, env=env).stdout
    assert "past the forty-five character limit" in full
    assert berth(["search", "--format", "{{.Name}}", "-f", "stars=10", "centos"], root, env=env).stdout == (
        "centos\nsomeone/centos-tools\n")
    assert berth(["search", "--format", "{{.Name}}", "-f", "is-official=true", "centos"], root,
                 env=env).stdout == "centos\n"
    assert berth(["search", "--format", "{{.Name}}", "--automated", "centos"], root,
                 env=env).stdout == "someone/centos-tools\n"
    assert berth(["search", "--format", "{{.Name}}", "--limit", "1", "centos"], root, env=env).stdout == "centos\n"
    assert queries[-1][1]["n"] == ["1"]
    bad = berth(["search", "--limit", "0", "centos"], root, env=env, check=False)
    assert (bad.returncode, bad.stderr) == (1, "Error: Limit 0 is outside the range of [1, 100]\n")


def test_private_registry_search_filters_its_catalog(plain_registry, tmp_path):
    seed = str(tmp_path / "seed")
    store = Store(seed)
    host = plain_registry.host
    for name in ("searchable/web", "searchable/webtools", "other/db"):
        make_image(store, [layer_tar({"f": name.encode()})], ["%s/%s:1" % (host, name)])
        berth(["push", "%s/%s:1" % (host, name)], seed)
    out = berth(["search", "--format", "{{.Name}}", "%s/web" % host], seed).stdout.split()
    assert out == ["%s/searchable/web" % host, "%s/searchable/webtools" % host]
