# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Directories walked, created, chowned and chmodded without following a symlink.

Pure Python, no Ansible imports; ai_system.containers.host_dirs's logic.

A volume's host directory may sit under a parent that a container can write.
Done by path, ``mkdir``, ``chown`` and ``chmod`` each resolve the path again,
so a symlink swapped in between them redirects the ``chown`` onto another
directory (``/etc``, say). Here every component is opened with
``O_DIRECTORY | O_NOFOLLOW`` relative to the descriptor of its parent
(``openat``), starting at ``/``; the new directory is created relative to its
parent's descriptor, opened the same way, and ``fchown``/``fchmod`` act on
that descriptor: whatever is swapped in afterwards, they change the directory
that was created. A component that is a symlink is refused, naming it.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import List, Optional, Tuple

DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)


class UnsafePath(Exception):
    """A path cannot be walked safely: ``str(exc)`` says which component and why."""


def _components(path: str) -> List[str]:
    if not os.path.isabs(path):
        raise UnsafePath("%s is not an absolute path" % path)
    parts = [p for p in path.split("/") if p and p != "."]
    if ".." in parts:
        raise UnsafePath("%s contains '..'; name the directory by its real path" % path)
    return parts


def _symlink_message(path: str, walked: str) -> str:
    return ("%s: %s is a symlink; host directories are created and given their owner without following "
            "symlinks (one swapped in by a container could redirect them): name the real directory in the "
            "volume's source (readlink -f %s)" % (path, walked, path))


def _open_child(parent_fd: int, name: str, path: str, walked: str) -> Optional[int]:
    """The descriptor of directory ``name`` under ``parent_fd``; None when it does not exist."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        try:
            info = os.lstat(name, dir_fd=parent_fd)
        except OSError:
            info = None
        if info is not None and stat.S_ISLNK(info.st_mode):
            raise UnsafePath(_symlink_message(path, walked))
        if exc.errno == errno.ENOTDIR or (info is not None and not stat.S_ISDIR(info.st_mode)):
            raise UnsafePath("%s: %s is not a directory" % (path, walked))
        raise UnsafePath("%s: cannot open %s: %s" % (path, walked, exc.strerror or exc))


def walk(path: str, create: bool = False, parent_mode: int = 0o755) -> Tuple[Optional[int], str]:
    """Open ``path``'s parent directory, component by component, never following a symlink.

    Returns (descriptor of the parent or None when a parent is missing and
    ``create`` is false, the last component). With ``create``, missing parents
    are made ``root``-owned (the caller's) with ``parent_mode``. The caller
    closes the descriptor.
    """
    parts = _components(path)
    if not parts:
        raise UnsafePath("%s is the root directory" % path)
    fd = os.open("/", DIR_FLAGS)
    walked = ""
    try:
        for name in parts[:-1]:
            walked += "/" + name
            child = _open_child(fd, name, path, walked)
            if child is None:
                if not create:
                    os.close(fd)
                    return None, parts[-1]
                os.mkdir(name, 0o700, dir_fd=fd)
                child = _open_child(fd, name, path, walked)
                if child is None:
                    raise UnsafePath("%s: %s vanished while it was created" % (path, walked))
                os.fchmod(child, parent_mode)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def state(path: str) -> str:
    """``directory``, ``absent`` or ``other`` for ``path``, walked without following a symlink.

    Raises :class:`UnsafePath` when a component (``path`` itself included) is a symlink.
    """
    fd, name = walk(path)
    if fd is None:
        return "absent"
    try:
        child = _open_child(fd, name, path, path)
    except UnsafePath as exc:
        if "is not a directory" in str(exc):
            return "other"
        raise
    finally:
        os.close(fd)
    if child is None:
        return "absent"
    os.close(child)
    return "directory"


def make_dir(path: str, uid: int, gid: int, mode: int) -> None:
    """Create ``path`` (and missing parents, 0755) and give it ``uid``:``gid`` ``mode``
    through the descriptor of the directory created, never by path."""
    fd, name = walk(path, create=True)
    try:
        os.mkdir(name, 0o700, dir_fd=fd)
        child = _open_child(fd, name, path, path)
        if child is None:
            raise UnsafePath("%s vanished while it was created" % path)
    finally:
        os.close(fd)
    try:
        os.fchown(child, uid, gid)
        # fchmod after fchown: chown clears the set-id bits.
        os.fchmod(child, mode)
    finally:
        os.close(child)
