#!/usr/bin/env bash
# Install what the collection's tests and lab need on a Debian 12 or 13
# machine: Podman >= 4.4 with Quadlet, runc, debootstrap, nftables and the
# Python tooling prerequisites. Idempotent; run as root.
set -euo pipefail

log() { printf '[install-host-deps] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "install-host-deps.sh must run as root" >&2
    exit 1
fi

. /etc/os-release
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

quadlet_ok() {
    [ -x /usr/libexec/podman/quadlet ] && command -v podman >/dev/null
}

case "${VERSION_CODENAME:-}" in
    bookworm)
        # Debian 12 ships Podman 4.3.1, which has no Quadlet. Podman 5 comes
        # from the trixie suite, pinned so that nothing else is taken from it
        # unless podman needs it.
        if ! quadlet_ok; then
            log "Debian 12: adding the trixie suite (pinned low) for Podman >= 4.4"
            cat >/etc/apt/sources.list.d/trixie.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
            cat >/etc/apt/preferences.d/50-trixie-low <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
            apt-get update -q
            apt-get install "${apt_opts[@]}" -t trixie podman runc
        fi
        ;;
    trixie|*)
        if ! quadlet_ok; then
            apt-get update -q
            apt-get install "${apt_opts[@]}" podman runc
        fi
        ;;
esac

need=()
for pkg in runc debootstrap nftables iproute2 python3-venv uidmap make git; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
    log "installing: ${need[*]}"
    apt-get update -q
    apt-get install "${apt_opts[@]}" "${need[@]}"
fi

# On this cgroup v1/hybrid machine Debian 12's crun does not work with
# Podman 5 (version mismatch); runc does.
if [ "$(stat -fc %T /sys/fs/cgroup)" != "cgroup2fs" ]; then
    conf=/etc/containers/containers.conf
    if ! grep -qs '^runtime *= *"runc"' "$conf"; then
        log "cgroup v1/hybrid host: setting runtime = \"runc\" in $conf"
        mkdir -p /etc/containers
        if grep -qs '^\[engine\]' "$conf"; then
            sed -i '/^\[engine\]/a runtime = "runc"' "$conf"
        else
            printf '\n[engine]\nruntime = "runc"\n' >>"$conf"
        fi
    fi
fi

log "podman $(podman --version | awk '{print $3}'), quadlet at /usr/libexec/podman/quadlet"
