#!/usr/bin/env bash
# Slims a freshly bootstrapped Debian tree into a container base image:
# no documentation, manual pages or translations (now or from later
# installs), no package lists or downloaded archives.
# Usage: customize.sh ROOTFS
set -euo pipefail
root=${1:?usage: customize.sh ROOTFS}

cat >"$root/etc/dpkg/dpkg.cfg.d/90-container-slim" <<'CFG'
# Container image: leave documentation and translations out.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
CFG

find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
       "$root"/usr/share/groff/* "$root"/usr/share/lintian/*

cat >"$root/etc/apt/apt.conf.d/90-container-slim" <<'CFG'
// Container image: do not keep downloaded archives.
APT::Install-Recommends "false";
Binary::apt::APT::Keep-Downloaded-Packages "false";
CFG

rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
