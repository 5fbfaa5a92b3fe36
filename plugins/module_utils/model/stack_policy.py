# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an inventory may hand to Podman beyond the plan's own fields: the
``quadlet_options`` allow-list, mount options, host paths and devices.

Pure Python, no Ansible imports. Every rule is an allow-list: a key, a
``PodmanArgs`` flag, a mount option or a device passes only when it is named
here, with a value of the shape given here. ``PodmanArgs`` is judged on the
words Quadlet makes of it (:mod:`quadlet_args`), so quoting and escapes
change nothing. Each function returns ``(message, fix)`` pairs; the model
adds host, group and field.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.model.quadlet_args import (
    SplitError, split,
)

Finding = Tuple[str, str]

# ---------------------------------------------------------------------------
# Value shapes
# ---------------------------------------------------------------------------

_WORD = r"[A-Za-z0-9_.,:@+/=-]"  # no white space, quote, backslash, '$' or '%'
_NUM = re.compile(r"-?\d{1,12}\Z")
_POSNUM = re.compile(r"\d{1,12}\Z")
_SIZE = re.compile(r"\d{1,12}[bkmgBKMG]?\Z")
_ULIMIT = re.compile(r"(?:core|cpu|data|fsize|locks|memlock|msgqueue|nice|nofile|nproc|rss|"
                     r"rtprio|rttime|sigpending|stack)=(?:-1|\d{1,12}|unlimited)"
                     r"(?::(?:-1|\d{1,12}|unlimited))?\Z")
# Annotations and labels are data for Podman: '%' and '$' are written %% and
# $$ (quadlet.format_value) and reach Podman as they are.
_KEYVAL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}=[A-Za-z0-9_.,:@+/=%%$-]{0,256}\Z")
# Keys that Podman, the OCI runtime, CDI or the plan itself act on.
RESERVED_KEY_PREFIXES = ("io.ai-system.", "podman_", "io.podman.", "io.containers.", "run.oci.",
                         "org.opencontainers.", "org.systemd.", "io.kubernetes.", "cdi.",
                         "nvidia.", "com.nvidia.", "io.crun.", "module.wasm.")


def _keyval(text: str) -> bool:
    if _KEYVAL_RE.match(text) is None:
        return False
    key = text.split("=", 1)[0].lower()
    return not key.startswith(RESERVED_KEY_PREFIXES)


_KEYVAL = _keyval
_SIGNAL = re.compile(r"(?:SIG)?[A-Z][A-Z0-9+]{1,10}\Z|\d{1,2}\Z")
_TZ = re.compile(r"(?:local|[A-Za-z][A-Za-z0-9_+/-]{0,63})\Z")
_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\Z|\d{1,10}\Z")
_USER = re.compile(r"(?:[a-z_][a-z0-9_.-]{0,31}|\d{1,10})(?::(?:[a-z_][a-z0-9_.-]{0,31}|\d{1,10}))?\Z")
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})\Z")
_IP = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}\Z|[0-9A-Fa-f:]{2,39}\Z")
_ADDHOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}:(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:]{2,39})\Z")
_DURATION_S = re.compile(r"(?:infinity|\d{1,9}(?:\.\d+)?(?:us|ms|s|min|m|h|d)?(?: ?\d{1,9}(?:us|ms|s|min|m|h|d))*)\Z")
_LIMIT = re.compile(r"(?:infinity|\d{1,19}[KMGTPE]?)(?::(?:infinity|\d{1,19}[KMGTPE]?))?\Z")
_PERCENT_OR_SIZE = re.compile(r"(?:infinity|\d{1,19}[KMGTPE]?|\d{1,3}%)\Z")
_UNIT_NAME = r"(?:[A-Za-z0-9:_.@-]|\\x[0-9a-f]{2}){1,250}"
_UNIT_ANY = re.compile(r"%s\.(?:service|socket|device|mount|automount|swap|target|path|timer|"
                       r"slice|scope)\Z" % _UNIT_NAME)
_UNIT_STORAGE = re.compile(r"%s\.(?:mount|device)\Z" % _UNIT_NAME)
_URL = re.compile(r"(?:https?|man|file|info):[A-Za-z0-9_.,:@+/=~#?&-]{1,500}\Z")
_BOOL = re.compile(r"(?:true|false|yes|no|on|off|1|0)\Z")


def _abs_path(text: str) -> bool:
    return (text.startswith("/") and posixpath.normpath(text) == text
            and not text.startswith("//") and re.match(r"[A-Za-z0-9_.@+/-]+\Z", text) is not None)


def _log_opt(text: str) -> bool:
    # Not path=: the log file would be written as root wherever it names.
    return re.match(r"(?:max-size=\d{1,12}[kmgKMG]?[bB]?|max-file=\d{1,4}|"
                    r"tag=[A-Za-z0-9_.{}-]{1,128})\Z", text) is not None


_TMPFS_OPTION = re.compile(r"(?:ro|rw|noexec|nosuid|nodev|size=\d{1,12}[kmgKMG%]?|"
                           r"mode=[0-7]{3,4}|uid=\d{1,10}|gid=\d{1,10}|notmpcopyup|tmpcopyup)\Z")


def _tmpfs(text: str) -> bool:
    path, dummy, options = text.partition(":")
    if not _abs_path(path) or not container_target_ok(path):
        return False
    return all(_TMPFS_OPTION.match(o) for o in options.split(",")) if options else True


def _mask(text: str) -> bool:
    return all(_abs_path(p) for p in text.split(":"))


def _oom(text: str) -> bool:
    # Only towards being killed first: a negative score protects the group.
    return _POSNUM.match(text) is not None and int(text) <= 1000


def _re(pattern: "re.Pattern[str]") -> Callable[[str], bool]:
    return lambda text: pattern.match(text) is not None


def _one_of(*choices: str) -> Callable[[str], bool]:
    return lambda text: text in choices


Check = Callable[[str], bool]

# ---------------------------------------------------------------------------
# quadlet_options: section -> key -> (value shape, what it should look like)
# ---------------------------------------------------------------------------

ALLOWED_KEYS: Dict[str, Dict[str, Tuple[Check, str]]] = {
    "Container": {
        "Ulimit": (_re(_ULIMIT), "nofile=4096:4096"),
        "ShmSize": (_re(_SIZE), "1g"),
        "PidsLimit": (_re(_NUM), "512"),
        "Annotation": (_KEYVAL, "key=value (not a key Podman, the runtime or CDI act on)"),
        "Label": (_KEYVAL, "key=value (not a key Podman or the plan act on)"),
        "LogDriver": (_one_of("journald", "k8s-file", "none", "passthrough"), "journald"),
        "LogOpt": (_log_opt, "max-size=10m (not path=)"),
        "StopSignal": (_re(_SIGNAL), "SIGTERM"),
        "StopTimeout": (_re(_POSNUM), "30"),
        "Timezone": (_re(_TZ), "Europe/Berlin or local"),
        "Tmpfs": (_tmpfs, "/app/cache:size=64m,noexec"),
        "Mask": (_mask, "/proc/acpi:/sys/firmware"),
        "User": (_re(_USER), "1000 or 1000:1000"),
        "Group": (_re(_NAME), "1000"),
        "GroupAdd": (lambda t: _NAME.match(t) is not None and t != "keep-groups", "video"),
        "WorkingDir": (_abs_path, "/app"),
        "RunInit": (_re(_BOOL), "true"),
        "Pull": (_one_of("always", "missing", "never", "newer"), "missing"),
        "AutoUpdate": (_one_of("registry", "local"), "registry"),
        "DNS": (_re(_IP), "192.168.1.1"),
        "DNSSearch": (_re(_DOMAIN), "lan"),
        "DNSOption": (_re(re.compile(r"[a-z0-9_-]{1,32}(?::\d{1,5})?\Z")), "ndots:2"),
        "AddHost": (_re(_ADDHOST), "db.lan:192.168.1.20"),
        "PodmanArgs": (lambda t: True, "--pids-limit=512"),  # judged word by word
    },
    "Service": dict(
        [(k, (_re(_LIMIT), "65536 or 1024:65536")) for k in (
            "LimitCORE", "LimitFSIZE", "LimitDATA", "LimitSTACK", "LimitNOFILE", "LimitNPROC",
            "LimitMEMLOCK", "LimitLOCKS", "LimitSIGPENDING", "LimitMSGQUEUE", "LimitAS",
            "LimitRSS", "LimitCPU", "LimitNICE", "LimitRTPRIO", "LimitRTTIME")]
        + [(k, (_re(_PERCENT_OR_SIZE), "8G or 80%")) for k in (
            "MemoryMax", "MemoryHigh", "MemoryLow", "MemoryMin", "MemorySwapMax", "TasksMax")]
        + [(k, (_re(re.compile(r"\d{1,5}\Z")), "100")) for k in ("CPUWeight", "IOWeight")]
        + [("CPUQuota", (_re(re.compile(r"\d{1,5}%\Z")), "200%")),
           ("TimeoutStopSec", (_re(_DURATION_S), "90s")),
           ("Nice", (_re(re.compile(r"(?:1?\d|0)\Z")), "10 (0 to 19)")),
           ("OOMScoreAdjust", (_oom, "500 (0 to 1000)")),
           ("Restart", (_one_of("no", "on-success", "on-failure", "on-abnormal", "on-watchdog",
                                "on-abort", "always"), "on-failure")),
           ("StartLimitBurst", (_re(_POSNUM), "5")),
           ("StartLimitIntervalSec", (_re(_DURATION_S), "10min"))]),
    "Unit": {
        "After": (_re(_UNIT_ANY), "mnt-models.mount"),
        "Wants": (_re(_UNIT_STORAGE), "mnt-models.mount (a .mount or .device unit)"),
        "Requires": (_re(_UNIT_STORAGE), "mnt-models.mount (a .mount or .device unit)"),
        "BindsTo": (_re(_UNIT_STORAGE), "mnt-models.mount (a .mount or .device unit)"),
        "RequiresMountsFor": (_abs_path, "/mnt/models"),
        "Documentation": (_re(_URL), "https://example.org/agents"),
        "StartLimitBurst": (_re(_POSNUM), "5"),
        "StartLimitIntervalSec": (_re(_DURATION_S), "10min"),
        "ConditionPathExists": (_abs_path, "/mnt/models"),
        "ConditionPathIsMountPoint": (_abs_path, "/mnt/models"),
        "AssertPathExists": (_abs_path, "/mnt/models"),
        "AssertPathIsMountPoint": (_abs_path, "/mnt/models"),
    },
    "Install": {},
    "Quadlet": {
        "DefaultDependencies": (_re(_BOOL), "false"),
    },
}

# Why some keys that are not allowed are refused (the rest: "not on the list").
REFUSED_WHY = {
    ("Container", "Mount"): "mounts host paths past the volumes rules; use volumes or "
                            "readonly_mounts",
    ("Container", "SeccompProfile"): "replaces or removes the seccomp filter",
    ("Container", "Unmask"): "exposes the kernel's masked paths (/proc/kcore, /sys/firmware ...)",
    ("Container", "SecurityLabelType"): "changes the SELinux confinement",
    ("Container", "SecurityLabelLevel"): "changes the SELinux confinement",
    ("Container", "SecurityLabelFileType"): "changes the SELinux confinement",
    ("Container", "SecurityLabelNested"): "changes the SELinux confinement",
    ("Container", "GlobalArgs"): "passes options to podman itself (storage, runtime, hooks)",
    ("Container", "ContainersConfModule"): "loads a containers.conf of its own",
    ("Container", "Rootfs"): "runs a host directory as the container's root",
    ("Container", "Pod"): "moves the group into a pod of another network",
    ("Container", "IP"): "fixes the container's address on the plan's network",
    ("Container", "IP6"): "fixes the container's address on the plan's network",
    ("Container", "ExposeHostPort"): "ports are published by the plan only",
    ("Container", "UIDMap"): "changes the user namespace; use security.userns",
    ("Container", "GIDMap"): "changes the user namespace; use security.userns",
    ("Container", "SubUIDMap"): "changes the user namespace; use security.userns",
    ("Container", "SubGIDMap"): "changes the user namespace; use security.userns",
    ("Container", "Sysctl"): "changes kernel settings",
    ("Service", "Environment"): "changes the environment of podman itself",
    ("Service", "EnvironmentFile"): "changes the environment of podman itself",
    ("Service", "User"): "runs podman as another user",
    ("Service", "Group"): "runs podman as another group",
    ("Service", "KillMode"): "is Quadlet's own",
    ("Service", "Type"): "is Quadlet's own",
    ("Service", "Delegate"): "is Quadlet's own",
    ("Unit", "Conflicts"): "stops other units",
    ("Unit", "Before"): "orders the group before other units (the firewall among them)",
    ("Unit", "PartOf"): "ties the group to another unit's restarts",
    ("Unit", "DefaultDependencies"): "removes the shutdown and boot ordering",
}
# Keys that run a command or start another unit: always refused.
COMMAND_KEY = re.compile(r"(?:Exec[A-Z][A-Za-z]*|On[A-Z][A-Za-z]*|Reload[A-Z][A-Za-z]*|"
                         r"HealthStartup[A-Z][A-Za-z]*|Entrypoint|JobTimeoutAction|"
                         r"[A-Za-z]*Action|FailureAction|SuccessAction)\Z")

# PodmanArgs: the flags that may pass, and the shape of their value (None: no value).
PODMAN_FLAGS: Dict[str, Tuple[Any, str]] = {
    "--pids-limit": (_re(_NUM), "512"),
    "--ulimit": (_re(_ULIMIT), "nofile=4096:4096"),
    "--shm-size": (_re(_SIZE), "1g"),
    "--shm-size-systemd": (_re(_SIZE), "64m"),
    "--memory-reservation": (_re(_SIZE), "2g"),
    "--memory-swap": (lambda t: t == "-1" or _SIZE.match(t) is not None, "4g"),
    "--memory-swappiness": (_re(re.compile(r"(?:\d{1,2}|100)\Z")), "10"),
    "--cpu-shares": (_re(_POSNUM), "512"),
    "--cpu-quota": (_re(_POSNUM), "50000"),
    "--cpu-period": (_re(_POSNUM), "100000"),
    "--cpuset-cpus": (_re(re.compile(r"[0-9,-]{1,64}\Z")), "0-3"),
    "--cpuset-mems": (_re(re.compile(r"[0-9,-]{1,64}\Z")), "0"),
    "--blkio-weight": (_re(re.compile(r"\d{2,4}\Z")), "500"),
    "--oom-score-adj": (_oom, "500 (0 to 1000)"),
    "--stop-timeout": (_re(_POSNUM), "30"),
    "--stop-signal": (_re(_SIGNAL), "SIGTERM"),
    "--tz": (_re(_TZ), "local"),
    "--log-opt": (_log_opt, "max-size=10m"),
    "--log-driver": (_one_of("journald", "k8s-file", "none", "passthrough"), "journald"),
    "--annotation": (_KEYVAL, "key=value"),
    "--label": (_KEYVAL, "key=value"),
    "--dns": (_re(_IP), "192.168.1.1"),
    "--dns-search": (_re(_DOMAIN), "lan"),
    "--add-host": (_re(_ADDHOST), "db.lan:192.168.1.20"),
    "--tmpfs": (_tmpfs, "/app/cache:size=64m"),
    "--workdir": (_abs_path, "/app"),
    "--init": (None, ""),
}
# Flags with a field of their own: point there.
PODMAN_FLAG_FIELDS = {
    "--cpus": "cpus", "--memory": "memory", "-m": "memory", "--env": "env", "-e": "env",
    "--volume": "volumes", "-v": "volumes", "--publish": "connects_to", "-p": "connects_to",
    "--device": "gpu or devices", "--user": "quadlet_options.Container.User",
    "-u": "quadlet_options.Container.User", "--cap-add": "security.add_capabilities",
    "--read-only": "security.read_only", "--userns": "security.userns",
    "--health-cmd": "health.cmd", "--name": "the group's name",
    "--hostname": "the group's name", "--network": "ai_network_name",
}


def _split_values(values: Sequence[str]) -> Tuple[List[str], List[Finding]]:
    words: List[str] = []
    found: List[Finding] = []
    for value in values:
        try:
            words.extend(split(value))
        except SplitError as exc:
            found.append(("value %r cannot be read as Quadlet reads it (%s): Quadlet would "
                          "drop it" % (value, exc), "write plain words, e.g. --pids-limit=512"))
    return words, found


def podman_args_problems(values: Sequence[str]) -> List[Finding]:
    """PodmanArgs: every word Quadlet passes must be an allowed flag or its value."""
    words, found = _split_values(values)
    allowed = ", ".join(sorted(PODMAN_FLAGS))
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        flag, has_value, value = word.partition("=")
        if flag in PODMAN_FLAGS:
            check, example = PODMAN_FLAGS[flag]
            if check is None:
                if has_value and value not in ("true", "false"):
                    found.append(("podman argument %r takes no value but true or false" % word,
                                  "write %s" % flag))
                continue
            if not has_value:
                if i >= len(words):
                    found.append(("podman argument %s has no value" % flag,
                                  "write e.g. %s=%s" % (flag, example)))
                    continue
                value = words[i]
                i += 1
            if not check(value):
                found.append(("podman argument %s has the value %r, which is not allowed"
                              % (flag, value), "write e.g. %s=%s" % (flag, example)))
            continue
        if flag in PODMAN_FLAG_FIELDS:
            found.append(("podman argument %r is set by the plan or a field of the group"
                          % word, "use %s" % PODMAN_FLAG_FIELDS[flag]))
        elif word.startswith("-"):
            found.append(("podman argument %r is not one PodmanArgs may pass" % word,
                          "allowed: %s" % allowed))
        else:
            found.append(("podman argument %r is not an option (Podman would read it as "
                          "the image or command)" % word, "allowed: %s" % allowed))
    return found


def option_problems(section: str, key: str, values: Sequence[Any]) -> List[Finding]:
    """One quadlet_options key and its values, against the allow-list."""
    if COMMAND_KEY.match(key):
        return [("%s runs a command or starts another unit" % key,
                 "quadlet_options never take keys that run commands or start units")]
    allowed = ALLOWED_KEYS.get(section, {})
    if key not in allowed:
        why = REFUSED_WHY.get((section, key),
                              "is not on the list of keys quadlet_options may set")
        names = ", ".join(sorted(allowed)) or "none"
        return [("%s %s" % (key, why), "keys allowed in [%s]: %s (docs/inventory.md)"
                 % (section, names))]
    texts = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    if key == "PodmanArgs":
        return podman_args_problems(texts)
    check, example = allowed[key]
    return [("value %r is not allowed here" % text, "write e.g. %s=%s" % (key, example))
            for text in texts if not check(text)]


# ---------------------------------------------------------------------------
# Mounts and devices
# ---------------------------------------------------------------------------

# Mount options that may be given; the rest are refused (U chowns the host
# tree, shared propagation leaks mounts back to the host, suid/dev/exec undo
# the defaults, O and idmap change how the host tree is seen).
MOUNT_OPTIONS = ("ro", "rw", "z", "Z", "nosuid", "nodev", "noexec", "private", "rprivate",
                 "slave", "rslave", "bind", "rbind", "copy", "nocopy")
MOUNT_OPTION_WHY = {
    "U": "chowns the host directory recursively to the container's user",
    "shared": "propagates mounts from the container back to the host",
    "rshared": "propagates mounts from the container back to the host",
    "suid": "lets set-user-ID programs on the host path run with their owner's rights",
    "dev": "lets device files on the host path be opened",
    "exec": "lets programs on the host path be run",
    "O": "mounts an overlay on the host directory",
    "idmap": "maps the host directory's owners",
}

# Host paths no mount may name (any mode): secrets, sockets, the kernel.
NEVER_TREES = ("/dev", "/proc", "/sys", "/boot", "/root", "/run", "/var/run", "/etc/ssh",
               "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d",
               "/etc/containers", "/var/lib/containers", "/etc/systemd", "/usr/lib/systemd",
               "/lib/systemd", "/var/lib/ai-system", "/etc/ssl/private", "/etc/pki/tls/private")
# Path components that hold keys and credentials, wherever they are.
SECRET_COMPONENTS = (".ssh", ".gnupg", ".aws", ".kube", ".docker", ".password-store")
# Host paths never mounted read-write: the system's programs and configuration.
READ_ONLY_TREES = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                   "/opt", "/var/lib", "/var/spool", "/var/log", "/var/cache", "/var/mail",
                   "/var/backups", "/snap", "/home")
# The whole of these is refused; their subdirectories (e.g. /srv/ai-system/x) pass.
SYSTEM_PATHS = ("/", "/etc", "/home", "/opt", "/srv", "/tmp", "/usr", "/var", "/var/lib",
                "/var/log", "/var/tmp", "/mnt", "/media")
# Where SELinux relabelling (z, Z) may never be asked for.
NO_RELABEL_TREES = NEVER_TREES + READ_ONLY_TREES + ("/usr", "/tmp", "/var/tmp")


def under(path: str, trees: Sequence[str]) -> bool:
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in trees)


def mount_problems(source: str, options: Sequence[str], readonly: bool,
                   own_trees: Sequence[str]) -> List[Finding]:
    """A host path (or named volume) mount and its options. ``own_trees``:
    the collection's directories on the host (ai_config_dir, ai_quadlet_dir)."""
    found: List[Finding] = []
    for opt in options:
        if opt not in MOUNT_OPTIONS:
            why = MOUNT_OPTION_WHY.get(opt, "is not on the list of mount options")
            found.append(("mount option %r %s" % (opt, why),
                          "allowed: %s" % ", ".join(MOUNT_OPTIONS)))
    if not source.startswith("/"):
        return found
    rw = not readonly and "ro" not in options
    parts = source.split("/")
    if under(source, NEVER_TREES) or under(source, own_trees):
        found.append(("host path %s is part of the system or of this collection's own "
                      "directories" % source,
                      "mount a directory of its own, e.g. /srv/ai-system/<name>"))
    elif any(p in SECRET_COMPONENTS for p in parts[1:]):
        found.append(("host path %s holds keys or credentials (%s)"
                      % (source, ", ".join(p for p in parts[1:] if p in SECRET_COMPONENTS)),
                      "mount a directory of its own; give a group a secret through secrets:"))
    elif any(p.startswith(".") for p in parts[1:]) and rw:
        found.append(("host path %s holds a hidden directory (e.g. .ssh, .config) and is "
                      "mounted read-write" % source, "mount a directory of its own read-write, "
                      "or this one read-only (:ro)"))
    elif source in SYSTEM_PATHS or (source.startswith("/home/") and source.count("/") == 2):
        found.append(("host path %s is a whole system directory" % source,
                      "mount a directory of its own, e.g. /srv/ai-system/<name>"))
    elif rw and under(source, READ_ONLY_TREES):
        found.append(("host path %s holds the system's programs or configuration and is "
                      "mounted read-write" % source,
                      "mount it read-only (readonly_mounts or :ro), or use a directory of its "
                      "own such as /srv/ai-system/<name>"))
    if any(o in ("z", "Z") for o in options) and under(source, NO_RELABEL_TREES):
        found.append(("host path %s is a system path; %s would relabel it for SELinux"
                      % (source, ",".join(o for o in options if o in ("z", "Z"))),
                      "remove z/Z: only directories this collection creates are relabelled"))
    return found


# Character devices a group may be given (the GPU comes through CDI, `gpu:`).
DEVICE_RE = re.compile(
    r"/dev/(?:dri/renderD\d{1,3}|dri/card\d{1,2}|snd/[A-Za-z0-9CD]{1,16}|snd|ttyUSB\d{1,3}|"
    r"ttyACM\d{1,3}|ttyS\d{1,3}|video\d{1,3}|media\d{1,3}|hidraw\d{1,3}|"
    r"bus/usb/\d{3}/\d{3}|i2c-\d{1,3}|net/tun|fuse|kfd|accel/accel\d{1,2}|"
    r"null|zero|full|random|urandom)\Z")
DEVICE_PERMISSIONS = re.compile(r"[rw]{1,2}\Z")
DEVICE_WHY = (
    (re.compile(r"/dev/(?:mem|kmem|port)\Z"), "gives the host's physical memory or I/O ports"),
    (re.compile(r"/dev/(?:sd|hd|vd|xvd|nvme|mmcblk|loop|dm-|md|sr|nbd|zd|rbd|ram|mapper/|disk/|"
                r"block/)"), "is a block device (a disk or partition)"),
    (re.compile(r"/dev/(?:char|block)/"), "is a device number link that can name any device"),
    (re.compile(r"/dev/cpu/"), "gives the CPUs' model-specific registers"),
    (re.compile(r"/dev/?\Z"), "is the whole of /dev"),
)


def device_problems(spec: str) -> List[Finding]:
    """devices entry: HOST[:CONTAINER[:PERMISSIONS]] naming an allowed character device."""
    parts = spec.split(":")
    host = parts[0]
    fix = ("name a character device the group needs (e.g. /dev/dri/renderD128, "
           "/dev/ttyUSB0); the GPU is given through CDI with gpu:")
    for pattern, why in DEVICE_WHY:
        if pattern.match(host):
            return [("device %s %s" % (host, why), fix)]
    if not DEVICE_RE.match(host):
        return [("device %s is not on the list of devices a group may be given" % host,
                 fix + "; docs/inventory.md lists what passes")]
    if len(parts) > 3 or (len(parts) >= 2 and not DEVICE_RE.match(parts[1])
                          and not re.match(r"/dev/[A-Za-z0-9_/-]{1,64}\Z", parts[1])):
        return [("device entry %r is not HOST[:CONTAINER[:PERMISSIONS]]" % spec,
                 "write e.g. /dev/dri/renderD128 or /dev/ttyUSB0:/dev/ttyUSB0:rw")]
    if len(parts) == 3 and not DEVICE_PERMISSIONS.match(parts[2]):
        return [("device %s permissions %r are not r, w or rw (m, mknod, is refused)"
                 % (host, parts[2]), "write rw")]
    return []


# Container paths no mount may cover: the container's root, and the kernel's
# interfaces the runtime sets up (a mount there can be turned against the host).
CONTAINER_TARGET_TREES = ("/proc", "/sys", "/dev")


def container_target_ok(target: str) -> bool:
    return target != "/" and not under(target, CONTAINER_TARGET_TREES)


# Capabilities a group may add back after dropping them all; the rest (SYS_ADMIN,
# SYS_MODULE, SYS_RAWIO, SYS_PTRACE, DAC_READ_SEARCH, NET_ADMIN, BPF, ALL, ...)
# open ways out of the container or into the host.
CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
                "SETPCAP", "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "SYS_NICE",
                "SYS_RESOURCE", "IPC_LOCK", "AUDIT_WRITE", "MKNOD", "SETFCAP", "WAKE_ALARM",
                "BLOCK_SUSPEND", "LEASE")


def capability_problems(caps: Sequence[str]) -> List[Finding]:
    out = []
    for cap in caps:
        name = cap.upper()
        name = name[4:] if name.startswith("CAP_") else name
        if name not in CAPABILITIES:
            out.append(("capability %s is not one a group may add: it opens a way out of the "
                        "container or into the host" % cap,
                        "allowed: %s" % ", ".join(CAPABILITIES)))
    return out


def subnet_problems(subnet: "ipaddress.IPv4Network", lan_addresses: Sequence[str]) -> List[str]:
    """Why a container subnet cannot be one (the host's routing and LAN stay intact)."""
    out = []
    shared = ipaddress.ip_network("100.64.0.0/10")
    private = subnet.is_private or (subnet.version == 4 and subnet.subnet_of(shared))
    if not private or subnet.is_loopback or subnet.is_link_local \
            or subnet.is_multicast or subnet.is_unspecified or subnet.is_reserved:
        out.append("is not a private IPv4 range (10/8, 172.16/12, 192.168/16, 100.64/10)")
    if not 8 <= subnet.prefixlen <= 28:
        out.append("has a prefix of /%d: use /8 to /28" % subnet.prefixlen)
    for addr in lan_addresses:
        if addr and ipaddress.ip_address(addr) in subnet:
            out.append("holds the LAN address %s" % addr)
    return out
