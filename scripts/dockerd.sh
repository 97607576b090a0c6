#!/bin/sh
# Make sure a Docker engine answers on /var/run/docker.sock.
#   scripts/dockerd.sh start   start it if it does not answer (systemd when it is pid 1,
#                              otherwise dockerd in the background with a pid file)
#   scripts/dockerd.sh stop    stop only a dockerd this script started, by its pid
set -eu
PIDFILE=/run/berth-dockerd.pid
LOG=/var/log/berth-dockerd.log
answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-start}" in
start)
    answers && exit 0
    if [ "$(cat /proc/1/comm)" = systemd ]; then
        systemctl start docker
    else
        # No systemd here: start the daemon ourselves and remember its pid.
        nohup dockerd --pidfile "$PIDFILE.daemon" >>"$LOG" 2>&1 &
        echo $! >"$PIDFILE"
    fi
    i=0
    until answers; do
        i=$((i + 1))
        if [ "$i" -gt 60 ]; then
            echo "dockerd did not answer within 30 s; last lines of $LOG:" >&2
            tail -n 20 "$LOG" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
    ;;
stop)
    [ -f "$PIDFILE" ] || exit 0
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 40 ]; do i=$((i + 1)); sleep 0.5; done
    rm -f "$PIDFILE"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
