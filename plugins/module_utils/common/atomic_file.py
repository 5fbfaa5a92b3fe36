# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a file so that readers see the old text or the new, never a part;
and the SHA-256 of a file's bytes.

Pure Python, no Ansible imports; used on the controller (the verify report,
image sources) and on the hosts (the record of what runs).
"""

from __future__ import annotations

import hashlib
import os
import tempfile


def file_sha256(path: str) -> str:
    """The hex SHA-256 of the file at ``path``, read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_directory(directory: str) -> None:
    """Flush ``directory``'s entries (a rename into it) to disk."""
    dir_fd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_text(path: str, text: str, mode: int = 0o644, durable: bool = True) -> None:
    """Write ``text`` to a temporary file beside ``path``, give it ``mode`` and
    rename it over ``path``. With ``durable`` (the default), the data is flushed
    to disk before the rename and the directory after it, so that a power cut
    leaves the old file or the new one, never an empty one."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if durable:
        fsync_directory(directory)
