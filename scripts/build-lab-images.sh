#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run indirectly, through lab_stage
# Builds the container images the two-host lab runs on, locally and without
# a container registry:
#
#   lab-host           localhost/ai-system/lab-host:trixie        Debian 13 test host (systemd, Python 3)
#   lab-host-bookworm  localhost/ai-system/lab-host:bookworm      Debian 12 test host (Podman 4.3.1 only)
#   python-zmq-base    localhost/ai-system/python-zmq-base:trixie Debian 13 minbase + python3-zmq
#   stand-in-agent     localhost/ai-system/stand-in-agent:latest  ZMQ stand-in for the agents (images/stand-in-agent)
#   lab-redis          localhost/ai-system/lab-redis:latest       Redis from Debian, for the pc2-redis group
#   lab-prometheus     localhost/ai-system/lab-prometheus:latest  Prometheus from Debian, for ai_monitoring
#   lab-registry       localhost/ai-system/lab-registry:latest    Container registry from Debian (docker-registry 2.8),
#                                                                 run by scripts/lab/registry.sh for the image pipeline
#
# Root file systems come from debootstrap and Debian's package mirror; the
# rootfs tarballs are cached under .cache/lab/ and an image whose recipe has
# not changed is reused. Images built from a Containerfile go through
# `podman build`, whose layer cache makes a rerun cheap.
#
# Usage: scripts/build-lab-images.sh [--rebuild] [--bookworm] [--archives DIR] [TARGET...]
#   TARGET          one or more of the names above, or `all`; the default is
#                   lab-host python-zmq-base stand-in-agent lab-redis lab-prometheus
#                   lab-registry (the lab runs Prometheus with inventory/lab-monitoring.yml,
#                   the registry for `make demo`'s image pipeline)
#   --bookworm      add lab-host-bookworm to the default targets
#   --rebuild       rebuild the selected images from scratch, cache ignored
#   --archives DIR  also write the images the lab hosts run (stand-in-agent,
#                   lab-redis, lab-prometheus) to DIR/NAME.tar for `podman load`, rewriting
#                   an archive only when its image changed
#
# Environment: LAB_MIRROR (Debian mirror, default http://deb.debian.org/debian),
# LAB_CACHE_DIR (default <repo>/.cache/lab).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lab/lib.sh
. "$repo/scripts/lab/lib.sh"
LAB_LOG_PREFIX=lab-images

export PODMAN_IGNORE_CGROUPSV1_WARNING=1
mirror=${LAB_MIRROR:-http://deb.debian.org/debian}
cache=${LAB_CACHE_DIR:-$repo/.cache/lab}
registry=localhost/ai-system
rebuild=0
bookworm=0
archives=""
targets=()

usage() {  # the comment at the top of this file
    awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

while [ $# -gt 0 ]; do
    case $1 in
        --rebuild) rebuild=1 ;;
        --bookworm) bookworm=1 ;;
        --archives)
            [ $# -ge 2 ] || lab_die "--archives needs a directory"
            archives=$2
            shift
            ;;
        --archives=*) archives=${1#--archives=} ;;
        -h | --help) usage; exit 0 ;;
        all) targets+=(lab-host lab-host-bookworm python-zmq-base stand-in-agent lab-redis lab-prometheus lab-registry) ;;
        lab-host | lab-host-bookworm | python-zmq-base | stand-in-agent | lab-redis | lab-prometheus | lab-registry) targets+=("$1") ;;
        *) usage >&2; lab_die "unknown argument: $1" ;;
    esac
    shift
done
if [ -n "$archives" ]; then
    case $archives in /*) ;; *) archives="$PWD/$archives" ;; esac
fi
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(lab-host python-zmq-base stand-in-agent lab-redis lab-prometheus lab-registry)
    [ "$bookworm" -eq 0 ] || targets+=(lab-host-bookworm)
fi

[ "$(id -u)" -eq 0 ] || lab_die "run as root: debootstrap and rootful Podman need it"
for tool in podman debootstrap zstd sha256sum; do
    command -v "$tool" >/dev/null || lab_die "$tool is not installed (see scripts/install-host-deps.sh)"
done

mkdir -p "$cache/rootfs" "$cache/debs" "$cache/logs"
exec 9>"$cache/.lock"
flock -n 9 || { lab_log "another build holds $cache/.lock; waiting"; flock 9; }

work=""
cleanup_work() {
    [ -n "$work" ] && [ -d "$work" ] || return 0
    # debootstrap mounts /proc and /sys inside the tree while it runs; an
    # interrupted run can leave them behind, and rm must never descend there.
    local mnt
    while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(findmnt -rn -o TARGET | grep -F "$work/" | sort -r)
    rm -rf --one-file-system "$work"
    work=""
}
trap 'cleanup_work' EXIT
trap 'exit 130' INT TERM

image_size() {  # image_size IMAGE: human-readable size
    podman image inspect --format '{{.Size}}' "$1" | numfmt --to=iec --suffix=B
}

image_id() {  # image_id IMAGE: the image's ID, empty when there is none
    podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true
}

# A rebuilt image leaves its predecessor untagged. Those are removed at the
# end (an old base image can only go once the images built on it have).
declare -a replaced_ids=()
note_replaced() {  # note_replaced OLD-ID IMAGE
    [ -n "$1" ] && [ "$1" != "$(image_id "$2")" ] && replaced_ids+=("$1")
    return 0
}

remove_replaced() {
    local id tags
    for id in "${replaced_ids[@]}"; do
        tags=$(podman image inspect --format '{{len .RepoTags}}' "$id" 2>/dev/null) || continue
        [ "$tags" = 0 ] || continue
        podman rmi "$id" >/dev/null 2>&1 && lab_log "removed the replaced image ${id:0:12}"
    done
    return 0
}

image_label() {  # image_label IMAGE LABEL: prints the label's value, if any
    podman image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# recipe_hash DIR SUITE: fingerprint of everything that shapes a rootfs image,
# so that a changed recipe (or a change to this script's rootfs steps) means
# a new tarball and a new image rather than a stale reuse.
recipe_hash() {
    {
        printf '%s\n' "$2" "$mirror"
        cat "$1/rootfs.env" "$1/customize.sh"
        declare -f bootstrap_rootfs finalize_rootfs
    } | sha256sum | cut -c1-16
}

bootstrap_rootfs() {  # bootstrap_rootfs SUITE INCLUDE TARGETDIR LOGFILE
    lab_run_logged "$4" "debootstrap $1" \
        debootstrap --variant=minbase --include="$2" --cache-dir="$cache/debs" \
        "$1" "$3" "$mirror"
}

finalize_rootfs() {  # finalize_rootfs ROOTFS: what every image tree needs
    local root=$1
    # debootstrap does not resolve every dependency (virtual packages, for
    # one); an image with broken dependencies would fail its first apt run.
    if ! chroot "$root" apt-get check -qq; then
        lab_log "  the package dependencies in the new tree are broken (see above)"
        return 1
    fi
    # Each container gets its own machine ID at boot (an empty file means
    # "generate one, not a first boot"); Podman provides resolv.conf and
    # the host name.
    : >"$root/etc/machine-id"
    [ -L "$root/var/lib/dbus/machine-id" ] || rm -f "$root/var/lib/dbus/machine-id"
    rm -f "$root/etc/resolv.conf" "$root/var/log/bootstrap.log"
    echo localhost >"$root/etc/hostname"
    rm -f "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/cache/apt/archives/partial/*
    rm -rf "$root"/tmp/* "$root"/var/tmp/*
}

# build_rootfs_image DIR SUITE IMAGE
build_rootfs_image() {
    local dir=$1 suite=$2 image=$3 name hash tarball
    name=$(basename "$dir")
    hash=$(recipe_hash "$dir" "$suite")
    tarball="$cache/rootfs/$name-$suite-$hash.tar.zst"

    if [ "$rebuild" -eq 0 ] && podman image exists "$image" \
        && [ "$(image_label "$image" ai-system.lab.recipe)" = "$hash" ]; then
        lab_log "$image is up to date (recipe $hash); reusing it"
        return 0
    fi

    # The recipe defines ROOTFS_DESCRIPTION, ROOTFS_INCLUDE and ROOTFS_CHANGES.
    local ROOTFS_DESCRIPTION ROOTFS_INCLUDE
    local -a ROOTFS_CHANGES
    # shellcheck source=/dev/null
    . "$dir/rootfs.env"

    if [ "$rebuild" -eq 1 ] || [ ! -s "$tarball" ]; then
        local t0
        work=$(mktemp -d "$cache/work.XXXXXX")
        t0=$(date +%s)
        lab_log "bootstrapping Debian $suite for $image (minbase + $ROOTFS_INCLUDE)"
        bootstrap_rootfs "$suite" "$ROOTFS_INCLUDE" "$work/rootfs" "$cache/logs/$name-$suite.log" || return 1
        lab_log "  debootstrap took $(lab_fmt_secs $(($(date +%s) - t0)))"
        finalize_rootfs "$work/rootfs" || return 1
        "$dir/customize.sh" "$work/rootfs" || return 1
        t0=$(date +%s)
        tar --numeric-owner --one-file-system -C "$work/rootfs" -cf - . \
            | zstd -q -T0 -6 -o "$tarball.part" || return 1
        mv -f "$tarball.part" "$tarball" || return 1
        lab_log "  rootfs cached as ${tarball#"$repo/"} ($(du -h "$tarball" | cut -f1), packed in $(lab_fmt_secs $(($(date +%s) - t0))))"
        cleanup_work
        # Older tarballs of the same image are stale now.
        find "$cache/rootfs" -name "$name-$suite-*.tar.zst" ! -name "$(basename "$tarball")" -delete
    else
        lab_log "using cached rootfs ${tarball#"$repo/"}"
    fi

    local -a change_args=()
    local change
    for change in "${ROOTFS_CHANGES[@]}" \
        "LABEL ai-system.lab.recipe=$hash" \
        "LABEL org.opencontainers.image.title=$name" \
        "LABEL org.opencontainers.image.description=\"$ROOTFS_DESCRIPTION (Debian $suite)\"" \
        "LABEL org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
        change_args+=(--change "$change")
    done
    local t0 old_id
    t0=$(date +%s)
    old_id=$(image_id "$image")
    zstd -dc "$tarball" | podman import --quiet "${change_args[@]}" - "$image" >/dev/null || return 1
    note_replaced "$old_id" "$image"
    lab_log "imported $image in $(lab_fmt_secs $(($(date +%s) - t0))), $(image_size "$image")"
}

# build_containerfile_image DIR IMAGE BUILD-ARG...
build_containerfile_image() {
    local dir=$1 image=$2 log old_id
    shift 2
    # RUN steps get the caller's open-file and process limits: Podman's build defaults can
    # exceed what an unprivileged or confined root may set.
    local -a args=(--layers --tag "$image" --file "$dir/Containerfile"
        --ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit "nproc=$(ulimit -Su):$(ulimit -Hu)")
    [ "$rebuild" -eq 0 ] || args+=(--no-cache)
    local arg
    for arg in "$@"; do
        args+=(--build-arg "$arg")
    done
    log="$cache/logs/$(basename "$dir").log"
    old_id=$(image_id "$image")
    lab_run_logged "$log" "podman build $image" podman build "${args[@]}" "$dir" || return 1
    note_replaced "$old_id" "$image"
    lab_log "built $image, $(image_size "$image")"
}

# save_archive IMAGE NAME: DIR/NAME.tar of IMAGE, unless it is current.
save_archive() {
    local image=$1 archive="$archives/$2.tar" id
    id=$(image_id "$image")
    if [ -s "$archive" ] && [ "$(cat "$archive.id" 2>/dev/null)" = "$id" ]; then
        lab_log "${archive#"$repo/"} is up to date"
        return 0
    fi
    mkdir -p "$archives" || return 1
    rm -f "$archive.part"
    podman save --quiet --output "$archive.part" "$image" || return 1
    mv -f "$archive.part" "$archive" && echo "$id" >"$archive.id" || return 1
    lab_log "saved $image to ${archive#"$repo/"} ($(du -h "$archive" | cut -f1))"
}

base_image=$registry/python-zmq-base:trixie

declare -A built=()
build_target() {
    [ -z "${built[$1]:-}" ] || return 0
    built[$1]=1
    case $1 in
        lab-host) build_rootfs_image "$repo/images/lab-host" trixie "$registry/lab-host:trixie" ;;
        lab-host-bookworm) build_rootfs_image "$repo/images/lab-host" bookworm "$registry/lab-host:bookworm" ;;
        python-zmq-base) build_rootfs_image "$repo/images/python-zmq-base" trixie "$base_image" ;;
        stand-in-agent)
            build_target python-zmq-base || return 1
            build_containerfile_image "$repo/images/stand-in-agent" "$registry/stand-in-agent:latest" "BASE=$base_image" || return 1
            [ -z "$archives" ] || save_archive "$registry/stand-in-agent:latest" stand-in-agent
            ;;
        lab-redis)
            build_target python-zmq-base || return 1
            build_containerfile_image "$repo/images/lab-redis" "$registry/lab-redis:latest" "BASE=$base_image" || return 1
            [ -z "$archives" ] || save_archive "$registry/lab-redis:latest" lab-redis
            ;;
        lab-prometheus)
            build_target python-zmq-base || return 1
            build_containerfile_image "$repo/images/lab-prometheus" "$registry/lab-prometheus:latest" "BASE=$base_image" || return 1
            [ -z "$archives" ] || save_archive "$registry/lab-prometheus:latest" lab-prometheus
            ;;
        lab-registry)
            # Runs on the controller only (scripts/lab/registry.sh): no archive.
            build_target python-zmq-base || return 1
            build_containerfile_image "$repo/images/lab-registry" "$registry/lab-registry:latest" "BASE=$base_image" || return 1
            ;;
    esac
}

# Base images first, whatever order they were asked for in.
ordered=()
for t in lab-host lab-host-bookworm python-zmq-base stand-in-agent lab-redis lab-prometheus lab-registry; do
    for want in "${targets[@]}"; do
        if [ "$want" = "$t" ]; then
            ordered+=("$t")
            break
        fi
    done
done

rc=0
for t in "${ordered[@]}"; do
    [ -z "${built[$t]:-}" ] || continue
    lab_stage "image $t" build_target "$t" || { rc=$?; break; }
done
remove_replaced
lab_timing_report
exit "$rc"
