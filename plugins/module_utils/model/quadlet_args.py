# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How Quadlet splits a value into ``podman`` arguments.

Pure Python, no Ansible imports. Quadlet reads ``PodmanArgs=``,
``GlobalArgs=`` and ``Exec=`` the way systemd reads a command line: words
separated by white space, single and double quotes removed (a quoted part may
sit anywhere in a word), C escapes (``\\x41``, ``\\n``, ``\\u00e9``, ``\\s``,
octal) decoded inside and outside quotes, an unbalanced quote or a trailing
backslash accepted, and a value holding an unknown escape (``\\q``,
``\\`` before a space) dropped whole. :func:`split` does the same, so a rule
judges the words ``podman`` will receive, not the text of the unit file.

This follows Quadlet's own splitter (podman ``pkg/systemd/parser/split.go``,
a port of systemd's ``extract_first_word``) with the flags Quadlet's
``LookupAllArgs`` uses: relax, unquote, C-unescape.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

SEPARATORS = b" \t\n\r"


class SplitError(ValueError):
    """Quadlet cannot split the value; it drops the whole value."""


def _unhex(c: int) -> int:
    if 0x30 <= c <= 0x39:
        return c - 0x30
    if 0x61 <= c <= 0x66:
        return c - 0x61 + 10
    if 0x41 <= c <= 0x46:
        return c - 0x41 + 10
    return -1


def _unoct(c: int) -> int:
    return c - 0x30 if 0x30 <= c <= 0x37 else -1


_SIMPLE = {
    ord("a"): 0x07, ord("b"): 0x08, ord("f"): 0x0c, ord("n"): 0x0a, ord("r"): 0x0d,
    ord("t"): 0x09, ord("v"): 0x0b, ord("\\"): 0x5c, ord('"'): 0x22, ord("'"): 0x27,
    ord("s"): 0x20,
}


def c_unescape_one(p: bytes) -> Tuple[int, int]:
    """(bytes consumed after the backslash, code point), or (-1, 0)."""
    if not p:
        return -1, 0
    c = p[0]
    if c in _SIMPLE:
        return 1, _SIMPLE[c]
    if c == ord("x"):
        if len(p) < 3:
            return -1, 0
        a, b = _unhex(p[1]), _unhex(p[2])
        if a < 0 or b < 0 or (a == 0 and b == 0):
            return -1, 0
        return 3, (a << 4) | b
    if c in (ord("u"), ord("U")):
        n = 4 if c == ord("u") else 8
        if len(p) < n + 1:
            return -1, 0
        digits = [_unhex(x) for x in p[1:n + 1]]
        if any(d < 0 for d in digits):
            return -1, 0
        value = 0
        for d in digits:
            value = (value << 4) | d
        if value == 0 or value > 0x10FFFF:
            return -1, 0
        return n + 1, value
    if 0x30 <= c <= 0x37:
        if len(p) < 3:
            return -1, 0
        a, b, d = _unoct(p[0]), _unoct(p[1]), _unoct(p[2])
        if a < 0 or b < 0 or d < 0 or (a == 0 and b == 0 and d == 0):
            return -1, 0
        value = (a << 6) | (b << 3) | d
        if value > 255:
            return -1, 0
        return 3, value
    return -1, 0


def _rune(value: int) -> bytes:
    # Go's WriteRune: a surrogate or out-of-range value becomes U+FFFD.
    if 0xD800 <= value <= 0xDFFF:
        value = 0xFFFD
    return chr(value).encode("utf-8")


def _first_word(data: bytes, pos: int) -> Tuple[Optional[bytes], int]:
    """One word from ``data[pos:]``: (word or None at the end, next position)."""
    end = len(data)
    # Skip leading separators.
    while pos < end and data[pos] in SEPARATORS:
        pos += 1
    if pos >= end:
        return None, end
    out = bytearray()
    quote = 0
    while True:
        if pos >= end:
            # Relax: an unbalanced quote or a trailing backslash ends the word.
            return (bytes(out) if out else None), end
        c = data[pos]
        if quote:
            if c == quote:
                quote = 0
                pos += 1
                continue
            if c == 0x5c:
                pos = _escape(data, pos, out)
                continue
            out.append(c)
            pos += 1
            continue
        if c in (0x22, 0x27):
            quote = c
            pos += 1
            continue
        if c == 0x5c:
            pos = _escape(data, pos, out)
            continue
        if c in SEPARATORS:
            while pos < end and data[pos] in SEPARATORS:
                pos += 1
            # Quadlet's port ends the whole split at an empty word ('' or "").
            return (bytes(out) if out else None), (pos if out else end)
        out.append(c)
        pos += 1


def _escape(data: bytes, pos: int, out: bytearray) -> int:
    """A backslash at ``pos``: append what it stands for, return the next position."""
    rest = data[pos + 1:]
    if not rest:
        return len(data)  # trailing backslash: dropped (relax)
    count, value = c_unescape_one(rest)
    if count < 0:
        raise SplitError("unknown escape sequence \\%s" % rest[:1].decode("utf-8", "replace"))
    out.extend(_rune(value))
    return pos + 1 + count


def split(value: str) -> List[str]:
    """The words Quadlet makes of one ``PodmanArgs=`` (or ``Exec=``) value.

    An empty word (``''`` or ``""``) ends the split there, as in Quadlet.

    Raises :class:`SplitError` where Quadlet would drop the value."""
    data = value.encode("utf-8", "surrogateescape")
    words: List[str] = []
    pos = 0
    while True:
        word, pos = _first_word(data, pos)
        if word is None:
            return words
        words.append(word.decode("utf-8", "replace"))
