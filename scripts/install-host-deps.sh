#!/usr/bin/env bash
# Install what the collection's tests and lab need on a Debian 12 or 13
# machine: Podman >= 4.4 with Quadlet, runc, debootstrap, nftables, shellcheck,
# promtool (Debian's prometheus package) and the Python tooling prerequisites. Idempotent; installing needs root.
#
# Usage: scripts/install-host-deps.sh [--check]
#   --check  install nothing: exit 0 when everything is there, else name what
#            is missing and exit 1 (no root needed; `make demo` and
#            `make test` ask this first)
#
# Debian 12's Podman (4.3) has no Quadlet: there, Podman comes from the trixie
# suite, taken from the same mirror as the machine's own bookworm source in
# its apt configuration (sources.list, sources.list.d/*.list or *.sources).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/apt-sources.sh
. "$here/apt-sources.sh"

log() { printf '[install-host-deps] %s\n' "$*"; }

# The sanity tests lint the shell scripts with shellcheck; the unit tests check
# and test the alert rules with promtool, from Debian's prometheus package.
PACKAGES=(runc debootstrap nftables iproute2 python3-venv uidmap make git shellcheck prometheus)
CONTAINERS_CONF=/etc/containers/containers.conf

quadlet_ok() {
    [ -x /usr/libexec/podman/quadlet ] && command -v podman >/dev/null
}

# A cgroup v1/hybrid host needs runc: Debian 12's crun does not work with
# Podman 5 there (version mismatch).
runc_conf_needed() {
    [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] && ! grep -qs '^runtime *= *"runc"' "$CONTAINERS_CONF"
}

# The packages of PACKAGES that are not installed, one per line.
missing_packages() {
    local out
    out=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null || true)
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        grep -qx "ii  $pkg" <<<"$out" || printf '%s\n' "$pkg"
    done
}

missing() {
    quadlet_ok || echo "podman with quadlet"
    missing_packages
    command -v promtool >/dev/null || echo "promtool"
    if runc_conf_needed; then echo "runtime = \"runc\" in $CONTAINERS_CONF"; fi
}

if [ "${1:-}" = --check ]; then
    gaps=$(missing)
    [ -z "$gaps" ] && exit 0
    log "missing: $(tr '\n' ',' <<<"$gaps" | sed 's/,$//; s/,/, /g')"
    exit 1
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--check]" >&2
    exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-host-deps.sh must run as root to install: $(missing | tr '\n' ' ')" >&2
    exit 1
fi

. /etc/os-release
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# Add SUITE from the mirror of the machine's own CODENAME source, pinned low so
# that nothing else is taken from it unless a package asked for needs it.
add_suite() {
    local suite=$1 codename=$2 files entry uri signed_by
    mapfile -t files < <(apt_source_files)
    if entry=$(apt_mirror_for_suite "$codename" "${files[@]}"); then
        IFS=$'\t' read -r uri signed_by <<<"$entry"
    else
        uri=http://deb.debian.org/debian signed_by=/usr/share/keyrings/debian-archive-keyring.gpg
        [ -f "$signed_by" ] || signed_by=-
        log "no $codename source in apt's sources; using $uri"
    fi
    log "adding the $suite suite from $uri (pinned low)"
    apt_suite_stanza "$suite" "$uri" "$signed_by" >"/etc/apt/sources.list.d/$suite.sources"
    cat >"/etc/apt/preferences.d/50-$suite-low" <<PIN
Package: *
Pin: release n=$suite
Pin-Priority: 100
PIN
}

if ! quadlet_ok; then
    case "${VERSION_CODENAME:-}" in
        bookworm)
            # Debian 12 ships Podman 4.3.1, which has no Quadlet; Podman 5
            # comes from trixie.
            add_suite trixie bookworm
            apt-get update -q
            apt-get install "${apt_opts[@]}" -t trixie podman runc
            ;;
        *)
            apt-get update -q
            apt-get install "${apt_opts[@]}" podman runc
            ;;
    esac
fi

mapfile -t need < <(missing_packages)
if [ "${#need[@]}" -gt 0 ]; then
    log "installing: ${need[*]}"
    apt-get update -q
    apt-get install "${apt_opts[@]}" "${need[@]}"
fi

if runc_conf_needed; then
    log "cgroup v1/hybrid host: setting runtime = \"runc\" in $CONTAINERS_CONF"
    mkdir -p "$(dirname "$CONTAINERS_CONF")"
    if grep -qs '^\[engine\]' "$CONTAINERS_CONF"; then
        sed -i '/^\[engine\]/a runtime = "runc"' "$CONTAINERS_CONF"
    else
        printf '\n[engine]\nruntime = "runc"\n' >>"$CONTAINERS_CONF"
    fi
fi

# The package starts a Prometheus of its own; the tests only need promtool.
if [ -d /run/systemd/system ] && systemctl is-enabled --quiet prometheus 2>/dev/null; then
    systemctl disable --now prometheus
fi

log "podman $(podman --version | awk '{print $3}'), quadlet at /usr/libexec/podman/quadlet"
