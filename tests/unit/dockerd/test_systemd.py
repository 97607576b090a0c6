"""docker.service parsing and berth's drop-in."""
from berth.hostprep.dockerd import systemd

DEBIAN_UNIT = """[Unit]
Description=Docker Application Container Engine
Requires=docker.socket

[Service]
Type=notify
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID
Restart=on-failure
"""

CENTOS7_UNIT = """[Service]
Type=notify
ExecStart=/usr/bin/dockerd-current \\
          --add-runtime docker-runc=/usr/libexec/docker/docker-runc-current \\
          --default-runtime=docker-runc \\
          --exec-opt native.cgroupdriver=systemd \\
          $OPTIONS \\
          $DOCKER_STORAGE_OPTIONS \\
          $INSECURE_REGISTRY
"""

SHOW = """FragmentPath=/lib/systemd/system/docker.service
DropInPaths=/etc/systemd/system/docker.service.d/berth.conf /etc/systemd/system/docker.service.d/http.conf
ActiveState=active
MainPID=4242
"""


def test_debian_exec_start_loses_host_flags_and_variables():
    exec_start = systemd.effective_exec_start(systemd.service_values(DEBIAN_UNIT, "ExecStart"))
    assert exec_start == "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS"
    assert systemd.daemon_argv(exec_start) == ["/usr/sbin/dockerd", "--containerd=/run/containerd/containerd.sock"]


def test_continuation_lines_and_flag_keys_on_centos7():
    exec_start = systemd.effective_exec_start(systemd.service_values(CENTOS7_UNIT, "ExecStart"))
    argv = systemd.daemon_argv(exec_start)
    assert argv == ["/usr/bin/dockerd-current", "--add-runtime", "docker-runc=/usr/libexec/docker/docker-runc-current",
                    "--default-runtime=docker-runc", "--exec-opt", "native.cgroupdriver=systemd"]
    assert systemd.flag_keys(argv) == ["default-runtime", "exec-opts", "runtimes"]


def test_host_flag_spellings_are_all_dropped():
    argv = systemd.daemon_argv("-/usr/bin/dockerd --host=tcp://0.0.0.0:2375 -Hunix:///x -H=fd:// --host fd:// -D")
    assert argv == ["/usr/bin/dockerd", "-D"]
    assert systemd.flag_keys(argv) == ["debug"]


def test_exec_start_reset_clears_earlier_values():
    assert systemd.effective_exec_start(["/a", "", "/b --x"]) == "/b --x"
    assert systemd.effective_exec_start(["/a", ""]) is None


def test_parse_show():
    assert systemd.parse_show(SHOW) == {
        "fragment_path": "/lib/systemd/system/docker.service",
        "drop_in_paths": ["/etc/systemd/system/docker.service.d/berth.conf",
                          "/etc/systemd/system/docker.service.d/http.conf"],
        "active_state": "active", "main_pid": 4242}


def test_drop_in_quotes_environment_and_escapes_percent():
    text = systemd.render_drop_in(["/usr/sbin/dockerd", "--containerd=/run/containerd/containerd.sock"],
                                  {"HTTP_PROXY": "http://u:p%40ss@proxy:3128", "NO_PROXY": "localhost,.lan"},
                                  socket_chmod=("0660", "/var/run/docker.sock"))
    assert text.splitlines()[3:] == [
        "[Service]",
        "ExecStart=",
        "ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock",
        "Environment=\"HTTP_PROXY=http://u:p%%40ss@proxy:3128\"",
        "Environment=NO_PROXY=localhost,.lan",
        "ExecStartPost=/bin/chmod 0660 /var/run/docker.sock",
    ]
    spaced = systemd.render_drop_in(["/usr/bin/dockerd"], {"NO_PROXY": 'a b"c'})
    assert spaced.splitlines()[-1] == 'Environment="NO_PROXY=a b\\"c"'


def test_other_drop_ins_that_set_exec_start_or_proxies_are_found():
    files = {
        "/d/berth.conf": "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd\n",
        "/d/tcp.conf": "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H tcp://0.0.0.0:2375\n",
        "/d/http-proxy.conf": '[Service]\nEnvironment="HTTP_PROXY=http://p:3128"\n',
        "/d/limits.conf": "[Service]\nLimitNOFILE=1048576\n",
    }
    found = systemd.other_drop_ins_setting(sorted(files), "/d/berth.conf", files.get)
    assert found == [("/d/http-proxy.conf", "Environment (proxy)"), ("/d/tcp.conf", "ExecStart")]
