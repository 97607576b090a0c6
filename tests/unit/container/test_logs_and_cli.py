"""JSON-lines logs, iptables rule text and CLI formatting."""
import json

import pytest
from berth.cli import format as fmt
from berth.cli import lifecycle, listing
from berth.runtime.container import logs, options, spec
from berth.runtime.network import iptables


def test_log_writer_splits_lines_and_keeps_partials(tmp_path):
    path = str(tmp_path / "c.log")
    writer = logs.LogWriter(path)
    writer.feed("stdout", b"one\ntw")
    writer.feed("stderr", b"err\n")
    writer.feed("stdout", b"o\n")
    writer.feed("stdout", b"tail")
    writer.close()
    with open(path) as handle:
        entries = [json.loads(line) for line in handle]
    assert [(e["stream"], e["log"]) for e in entries] == [
        ("stdout", "one\n"), ("stderr", "err\n"), ("stdout", "two\n"), ("stdout", "tail")]
    assert entries[0]["time"].endswith("Z") and len(entries[0]["time"]) == 30


def test_read_from_offsets(tmp_path):
    path = str(tmp_path / "c.log")
    writer = logs.LogWriter(path)
    writer.feed("stdout", b"a\nb\n")
    first, offset = logs.read_from(path)
    writer.feed("stdout", b"c\n")
    more, _ = logs.read_from(path, offset)
    assert [e[2] for e in first] == ["a\n", "b\n"]
    assert [e[2] for e in more] == ["c\n"]
    assert logs.tail(first + more, 1) == more


def test_rfc3339_round_trip():
    assert logs.rfc3339_nano(0.5) == "1970-01-01T00:00:00.500000000Z"
    assert logs.parse_time("1970-01-01T00:01:00.250000000Z") == 60.25


def test_port_rules_text():
    rules = iptables.port_rules("berth0", "10.209.0.2", [("", 8080, 80, "tcp")])
    assert rules == {
        "nat": ["-A BERTH -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.209.0.2:80"],
        "filter": ["-A BERTH -d 10.209.0.2/32 ! -i berth0 -o berth0 -p tcp -m tcp --dport 80 -j ACCEPT"]}
    assert iptables.chain_name("bt9") == "BERTH-BT9"


def test_human_duration_matches_docker():
    assert fmt.human_duration(0.3) == "Less than a second"
    assert fmt.human_duration(5) == "5 seconds"
    assert fmt.human_duration(61) == "About a minute"
    assert fmt.human_duration(600) == "10 minutes"
    assert fmt.human_duration(3600) == "About an hour"
    assert fmt.human_duration(7200) == "2 hours"


def test_render_template():
    row = {"ID": "abc", "Names": "web", "Labels": {"a": "b"}}
    assert fmt.Template("{{.ID}}\\t{{.Names}}").render(row) == "abc\tweb"
    assert fmt.Template("{{json .Labels}}").render(row) == '{"a":"b"}'
    assert fmt.Template("{{.Missing}}").render(row) == "<no value>"


def test_ps_table_format_keeps_literal_text_like_images():
    """One formatter: a table template's literal text stays in the header and in each row."""
    template = fmt.Template("table ID={{.ID}}\\t[{{.Names}}]")
    assert fmt.render_table([template.header(listing.PS_HEADERS), template.render({"ID": "abc", "Names": "web"})]) == [
        "ID=CONTAINER ID   [NAMES]", "ID=abc            [web]"]


def test_parse_since_forms():
    assert listing.parse_since("1700000000", now=0) == 1700000000.0
    assert listing.parse_since("10m", now=1000.0) == 400.0
    assert listing.parse_since("1970-01-02T00:00:00Z") == 86400.0


def test_parse_signal():
    assert lifecycle.parse_signal("TERM") == 15
    assert lifecycle.parse_signal("SIGKILL") == 9
    assert lifecycle.parse_signal("2") == 2


def test_bridge_settings_precedence(tmp_path):
    from berth.runtime.network.bridge import bridge_settings
    config = tmp_path / "daemon.json"
    config.write_text('{"bip": "10.55.0.1/24", "bridge": "br9"}')
    assert bridge_settings({"BERTH_DAEMON_CONFIG": str(config)}) == ("br9", "10.55.0.1/24")
    assert bridge_settings({"BERTH_DAEMON_CONFIG": str(config), "BERTH_BIP": "10.66.0.1/16"}) == (
        "br9", "10.66.0.1/16")
    assert bridge_settings({"BERTH_DAEMON_CONFIG": str(tmp_path / "none.json")}) == (
        "berth0", "10.209.0.1/16")


def test_parse_create_args_docker_style():
    values, image, command = options.parse_cli("run", ["-itd", "--rm", "-e", "A=1", "-eB=2", "--name=web",
                                                       "-p", "8080:80", "--memory", "64m", "-h", "box",
                                                       "busybox:test", "sh", "-c", "echo --not-a-flag"])
    assert (values["interactive"], values["tty"], values["detach"], values["rm"]) == (True, True, True, True)
    assert values["env"] == ["A=1", "B=2"]
    assert (values["name"], values["publish"], values["memory"], values["hostname"]) == (
        "web", ["8080:80"], "64m", "box")
    assert (image, command) == ("busybox:test", ["sh", "-c", "echo --not-a-flag"])
    name, body = options.to_body(values, image, command, {})
    assert (body["HostConfig"]["NetworkMode"], body["HostConfig"]["RestartPolicy"]["Name"]) == ("default", "no")


def test_parse_create_args_refuses_what_docker_refuses():
    assert options.parse_cli("run", ["--help"]) is None
    for argv, message in ((["--bogus", "img"], "unknown flag: --bogus"),
                          (["--name"], "flag needs an argument: --name"),
                          (["-d", "img"], "unknown shorthand flag: 'd' in -d"),  # create has no -d
                          (["--pids-limit", "x", "img"], 'invalid argument "x" for "--pids-limit" flag')):
        with pytest.raises(spec.SpecError) as caught:
            options.parse_cli("create", argv)
        assert str(caught.value).startswith(message)
