"""Bridge networking: container to container, published ports, egress, exact cleanup."""
import http.server
import socket
import subprocess
import threading
import time
import urllib.request


def host_address():
    """An address of this host that is not loopback and not on a container bridge."""
    out = subprocess.check_output(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                                  universal_newlines=True)
    for line in out.splitlines():
        fields = line.split()
        if fields[1].startswith(("eth", "en")):
            return fields[3].split("/")[0]
    raise AssertionError("no global IPv4 address on an ethernet interface: %s" % out)


def wait_http(url, timeout=10):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


SERVE = ("mkdir -p /www; echo hello-from-$(hostname) > /www/index.html; "
         "exec httpd -f -p 8080 -h /www")


def rules_mentioning(text):
    rules = []
    for table in ("filter", "nat"):
        out = subprocess.check_output(["iptables", "-w", "-t", table, "-S"], universal_newlines=True)
        rules += [(table, rule) for rule in out.splitlines() if text in rule]
    return rules


def links_on(bridge):
    out = subprocess.check_output(["ip", "-o", "link", "show", "master", bridge],
                                  universal_newlines=True)
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def test_containers_reach_each_other_and_published_ports_answer(env, image):
    env.berth("run", "-d", "--name", "web", "-p", "18481:8080", image, "sh", "-c", SERVE)
    address = env.inspect("web")["NetworkSettings"]["IPAddress"]
    gateway = env.bip.split("/")[0]
    assert address == gateway.rsplit(".", 1)[0] + ".2"
    assert env.inspect("web")["NetworkSettings"]["Ports"] == {
        "8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18481"}]}
    hostname = env.inspect("web")["Config"]["Hostname"]
    expected = "hello-from-%s\n" % hostname
    client = env.berth("run", "--rm", image, "sh", "-c",
                       "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://%s:8080/ && break; "
                       "sleep 0.3; done; ip route | head -1; cat /etc/resolv.conf | grep -c nameserver"
                       % address).stdout.splitlines()
    assert client[0] == expected.strip()
    assert client[1].startswith("default via %s dev eth0" % gateway)
    assert wait_http("http://127.0.0.1:18481/") == expected
    assert wait_http("http://%s:18481/" % host_address()) == expected
    veth = "veth" + env.inspect("web")["Id"][:10]
    assert links_on(env.bridge) == [veth]
    assert len(rules_mentioning("--dport 18481")) == 1
    env.berth("rm", "-f", "web")
    assert links_on(env.bridge) == []
    assert rules_mentioning("--dport 18481") == []
    assert rules_mentioning(address + "/32") == []
    assert rules_mentioning(address + ":8080") == []


def test_egress_reaches_a_server_on_the_hosts_other_address(env, image):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("seen %s" % self.client_address[0]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer((host_address(), 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = env.berth("run", "--rm", image, "sh", "-c",
                        "wget -q -O - http://%s:%d/; echo; cat /etc/hosts | tail -1"
                        % (host_address(), server.server_address[1])).stdout.splitlines()
    finally:
        server.shutdown()
        server.server_close()
    subnet_prefix = env.bip.split("/")[0].rsplit(".", 1)[0] + "."
    assert out[0].startswith("seen " + subnet_prefix)
    assert out[1].startswith(subnet_prefix)


def test_network_none_and_host(env, image):
    none = env.berth("run", "--rm", "--network", "none", image, "ip", "-o", "link").stdout
    assert [line.split(":")[1].strip() for line in none.splitlines()] == ["lo"]
    host = env.berth("run", "--rm", "--network", "host", image, "hostname").stdout.strip()
    assert host == socket.gethostname()


def test_addresses_are_reused_after_removal(env, image):
    first = env.berth("run", "-d", image, "sleep", "300").stdout.strip()
    second = env.berth("run", "-d", image, "sleep", "300").stdout.strip()
    a1 = env.inspect(first)["NetworkSettings"]["IPAddress"]
    a2 = env.inspect(second)["NetworkSettings"]["IPAddress"]
    assert a1 != a2
    env.berth("rm", "-f", first)
    third = env.berth("run", "-d", image, "sleep", "300").stdout.strip()
    assert env.inspect(third)["NetworkSettings"]["IPAddress"] == a1
