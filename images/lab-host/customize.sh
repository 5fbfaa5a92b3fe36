#!/usr/bin/env bash
# Turns a freshly bootstrapped Debian tree into a lab host image.
# Usage: customize.sh ROOTFS
set -euo pipefail
root=${1:?usage: customize.sh ROOTFS}

# apt's periodic jobs would take the dpkg lock at random moments while the
# role under test installs packages; a lab host runs apt only when told to.
for unit in apt-daily.timer apt-daily-upgrade.timer; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done

# No consoles to log in on (`podman exec` is the way in), and no kernel
# modules to load: the kernel belongs to the machine that runs the lab.
for unit in getty.target systemd-modules-load.service; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done

# Keep the package lists debootstrap fetched, as an installed machine would
# have them; only the downloaded archives go.
rm -f "$root"/var/cache/apt/archives/*.deb
