"""JSON-lines logs, iptables rule text and CLI formatting."""
import json

from berth.cli import containers as cli
from berth.runtime.container import logs
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
    assert cli.human_duration(0.3) == "Less than a second"
    assert cli.human_duration(5) == "5 seconds"
    assert cli.human_duration(61) == "About a minute"
    assert cli.human_duration(600) == "10 minutes"
    assert cli.human_duration(3600) == "About an hour"
    assert cli.human_duration(7200) == "2 hours"


def test_render_template():
    row = {"ID": "abc", "Names": "web", "Labels": {"a": "b"}}
    assert cli.render_template("{{.ID}}\\t{{.Names}}", row) == "abc\tweb"
    assert cli.render_template("{{json .Labels}}", row) == '{"a":"b"}'
    assert cli.render_template("{{.Missing}}", row) == "<no value>"


def test_parse_since_forms():
    assert cli.parse_since("1700000000", now=0) == 1700000000.0
    assert cli.parse_since("10m", now=1000.0) == 400.0
    assert cli.parse_since("1970-01-02T00:00:00Z") == 86400.0


def test_parse_signal():
    assert cli.parse_signal("TERM") == 15
    assert cli.parse_signal("SIGKILL") == 9
    assert cli.parse_signal("2") == 2


def test_bridge_settings_precedence(tmp_path):
    from berth.runtime.container.supervisor import bridge_settings
    config = tmp_path / "daemon.json"
    config.write_text('{"bip": "10.55.0.1/24", "bridge": "br9"}')
    assert bridge_settings({"BERTH_DAEMON_CONFIG": str(config)}) == ("br9", "10.55.0.1/24")
    assert bridge_settings({"BERTH_DAEMON_CONFIG": str(config), "BERTH_BIP": "10.66.0.1/16"}) == (
        "br9", "10.66.0.1/16")
    assert bridge_settings({"BERTH_DAEMON_CONFIG": str(tmp_path / "none.json")}) == (
        "berth0", "10.209.0.1/16")


def test_parse_create_args_docker_style():
    args = cli.parse_create_args("run", ["-itd", "--rm", "-e", "A=1", "-eB=2", "--name=web",
                                         "-p", "8080:80", "--memory", "64m", "-h", "box",
                                         "busybox:test", "sh", "-c", "echo --not-a-flag"])
    assert (args.interactive, args.tty, args.detach, args.rm) == (True, True, True, True)
    assert args.env == ["A=1", "B=2"]
    assert (args.name, args.publish, args.memory, args.hostname) == ("web", ["8080:80"], "64m", "box")
    assert (args.image, args.command) == ("busybox:test", ["sh", "-c", "echo --not-a-flag"])
    assert args.func is cli.cmd_run
    assert (args.network, args.restart) == ("bridge", "no")


def test_parse_create_args_hands_errors_to_argparse():
    assert cli.parse_create_args("run", ["--help"]) is None
    assert cli.parse_create_args("run", ["--bogus", "img"]) is None
    assert cli.parse_create_args("run", ["--name"]) is None
    assert cli.parse_create_args("create", ["-d", "img"]) is None  # create has no -d
    assert cli.parse_create_args("run", ["--pids-limit", "x", "img"]) is None
