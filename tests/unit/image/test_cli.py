"""The CLI dispatcher and the image verbs' argument handling, run in-process on a temp root."""
import pytest
from berth.cli import main as cli


def run(argv, capsys):
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_help_lists_every_registered_verb(capsys):
    status, out, _ = run(["--help"], capsys)
    assert status == 0
    lines = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in lines] == sorted(cli.VERBS)
    # each command with its one-line summary, as docker --help
    assert "  run        Create and run a new container" in lines
    assert all(len(line.split()) > 1 for line in lines)


def test_unknown_verb(capsys):
    status, _, err = run(["frobnicate"], capsys)
    assert (status, err) == (1, "berth: 'frobnicate' is not a berth command.\nSee 'berth --help'\n")


def test_global_options_come_before_the_verb(tmp_path):
    context, rest = cli.parse_globals(["--root", str(tmp_path), "--registry-mirror=https://m", "-D",
                                       "--insecure-registry", "r:5000", "images", "-q"])
    assert (context.root, context.mirrors, context.insecure, context.debug) == (
        str(tmp_path), ["https://m"], ["r:5000"], True)
    assert rest == ["images", "-q"]


def test_empty_store_lists_only_the_header(tmp_path, capsys):
    status, out, _ = run(["--root", str(tmp_path), "images"], capsys)
    assert (status, out) == (0, "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n")


def test_missing_image_errors(tmp_path, capsys):
    status, _, err = run(["--root", str(tmp_path), "image", "inspect", "nope"], capsys)
    assert (status, err) == (1, "Error: No such image: nope\n")
    status, _, err = run(["--root", str(tmp_path), "tag", "nope", "other"], capsys)
    assert (status, err) == (1, "Error: No such image: nope\n")


def test_bad_flag_is_reported_like_docker(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--root", str(tmp_path), "images", "--bogus"])
    assert info.value.code == 1
    assert "unrecognized arguments: --bogus\nSee 'berth images --help'." in capsys.readouterr().err
