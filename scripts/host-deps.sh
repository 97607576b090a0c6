#!/bin/sh
# Install the Debian packages berth's commands need, only those missing, so a
# fresh Debian 12 machine needs nothing done by hand. Idempotent and quiet.
set -eu
[ "$(id -u)" = 0 ] || { echo "host-deps: must run as root (apt-get, dockerd, namespaces)" >&2; exit 1; }
missing=""
for pkg in "$@"; do
    status=$(dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $pkg"
done
[ -n "$missing" ] || exit 0
echo "host-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
