# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keyed digests of secret values, made on the controller with a key that stays there.

A phase's record on a host must change when a secret value changes, without
the host (or a log of task arguments and results) learning anything that
would let someone guess the value: a bare SHA-256 of a short secret is
guessed by trying candidates. Each value is therefore digested with
HMAC-SHA256 under a key that exists only on the controller, in a file made
once, readable by its owner only (0600, its directory 0700). The digests
enter the phase's inputs digest on the controller; neither they nor the
values are ever a module argument.

The key file is ``~/.ansible/ai_system/secrets-digest.key`` unless the
inventory sets ``ai_secrets_digest_key_file`` (for example beside the
inventory, for several controllers that share it). Another key (another
controller, a removed file) only makes the next run apply the phase once
and record the new digest.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping

DEFAULT_KEY_FILE = "~/.ansible/ai_system/secrets-digest.key"
KEY_FILE_VAR = "ai_secrets_digest_key_file"
KEY_BYTES = 32


class KeyFileError(Exception):
    """The key file cannot be made or read: ``str(exc)`` says which and what to do."""


def _read_key(path):
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError("%s (the secrets' digest key) is not a regular file: remove it; a new key is "
                           "made on the next run" % path)
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise KeyFileError("%s (the secrets' digest key) is readable by others (mode %04o): "
                           "chmod 600 %s" % (path, stat.S_IMODE(info.st_mode), path))
    with open(path, "rb") as handle:
        text = handle.read().strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) < 16:
        raise KeyFileError("%s (the secrets' digest key) holds no key of at least 16 bytes in hex: remove "
                           "it; a new key is made on the next run" % path)
    return key


def load_key(path=DEFAULT_KEY_FILE):
    """The key in ``path``; made first (random, 0600, directory 0700) when there is none.

    Several processes (Ansible's forks) may make it at once: each writes a
    whole key to a file of its own and links it into place; the first link
    wins and every process reads that one.
    """
    path = os.path.abspath(os.path.expanduser(path))
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KeyFileError("cannot read %s (the secrets' digest key): %s" % (path, exc.strerror or exc))
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, 0o700, exist_ok=True)
        tmp = "%s.%d.%s.tmp" % (path, os.getpid(), secrets.token_hex(4))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_hex(KEY_BYTES).encode("ascii") + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
        finally:
            os.unlink(tmp)
        return _read_key(path)
    except OSError as exc:
        raise KeyFileError("cannot make %s (the secrets' digest key): %s; set %s to a file the controller "
                           "user can write" % (path, exc.strerror or exc, KEY_FILE_VAR))


def secret_digests(key, values):
    """``{name: HMAC-SHA256(key, name NUL value)}`` for every secret in ``values``
    (a value that is None digests as absent)."""
    if not isinstance(values, Mapping):
        raise TypeError("secret values must be a mapping of name to value")
    out = {}
    for name in sorted(values):
        value = values[name]
        text = "\0absent" if value is None else "=" + str(value)
        out[str(name)] = hmac.new(key, ("%s\0%s" % (name, text)).encode("utf-8"), hashlib.sha256).hexdigest()
    return out
