"""common.atomic and common.command on the real filesystem and real processes."""
import os
import stat

import pytest
from berth.common.atomic import atomic_write, locked
from berth.common.command import CommandError, run


def test_atomic_write_replaces_content_and_mode_leaving_no_temp(tmp_path):
    target = tmp_path / "daemon.json"
    target.write_text("old")
    atomic_write(str(target), '{"a": 1}\n', mode=0o600)
    assert target.read_text() == '{"a": 1}\n'
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ["daemon.json"]


def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "f"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic_write(str(target), 12345)  # fails after the temp file exists
    assert target.read_text() == "old"
    assert os.listdir(str(tmp_path)) == ["f"]


def test_locked_excludes_a_second_holder(tmp_path):
    import fcntl
    lock = str(tmp_path / "lock")
    with locked(lock):
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)


def test_run_returns_output_in_the_c_locale():
    rc, out, err = run(["sh", "-c", "echo $LC_ALL; echo oops >&2"])
    assert (rc, out, err) == (0, "C\n", "oops\n")


def test_run_raises_with_the_tail_of_stderr():
    with pytest.raises(CommandError, match=r"sh -c echo bad >&2; exit 3 exited 3: bad"):
        run(["sh", "-c", "echo bad >&2; exit 3"])
    assert run(["sh", "-c", "exit 4"], check=False)[0] == 4


def test_run_times_out():
    with pytest.raises(CommandError, match="timed out after 0.2s"):
        run(["sleep", "5"], timeout=0.2)
