#!/usr/bin/env bash
# Removes the network state that Podman left behind for networks it no
# longer knows: aardvark-dns entries and their running server.
#
# A Podman run that was killed (a lost session, a host shut down mid-run)
# can leave /run/containers/networks/aardvark-dns/<network> behind after the
# network and its bridge are gone. aardvark-dns then fails to bind the old
# gateway address, and every later container on any network with DNS fails
# to start ("failed to bind udp listener on <address>:53"). This removes
# only the entries of networks `podman network exists` denies, then asks
# a running server to reload its configuration (SIGHUP), as netavark does.
#
# Usage: scripts/clear-stale-network-state.sh   (as root; safe to repeat)
set -euo pipefail

dir=${AARDVARK_DIR:-/run/containers/networks/aardvark-dns}
export PODMAN_IGNORE_CGROUPSV1_WARNING=1

command -v podman >/dev/null || { echo "clear-stale-network-state: no podman here: nothing to do"; exit 0; }
[ -d "$dir" ] || { echo "clear-stale-network-state: no $dir: nothing to do"; exit 0; }

stale=0
for entry in "$dir"/*; do
    [ -f "$entry" ] || continue
    name=${entry##*/}
    case $name in aardvark.pid | *.lock) continue ;; esac
    if ! podman network exists "$name"; then
        echo "clear-stale-network-state: removing the aardvark-dns entry of network $name, which Podman no longer has ($(head -n1 "$entry"))"
        rm -f -- "$entry"
        stale=1
    fi
done

if [ "$stale" -eq 1 ] && [ -f "$dir/aardvark.pid" ]; then
    pid=$(cat "$dir/aardvark.pid")
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = aardvark-dns ]; then
        echo "clear-stale-network-state: aardvark-dns ($pid) reloads its configuration"
        kill -HUP "$pid"
    else
        rm -f -- "$dir/aardvark.pid"
    fi
fi
[ "$stale" -eq 1 ] || echo "clear-stale-network-state: no stale aardvark-dns entries"
