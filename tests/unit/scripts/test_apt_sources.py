# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""scripts/apt-sources.sh: the mirror of a suite from apt's sources, both formats.

The functions run in bash (with the machine's awk, mawk on Debian) on sample
files like those of Debian 12 and 13 installations, cloud images and
hand-edited machines.
"""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(REPO, "scripts", "apt-sources.sh")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# Debian 12's installer, one-line format.
BOOKWORM_LIST = """\
#deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 NETINST]/ bookworm main

deb-src http://ftp.de.debian.org/debian/ bookworm main non-free-firmware
deb http://security.debian.org/debian-security bookworm-security main non-free-firmware
deb http://ftp.de.debian.org/debian/ bookworm main non-free-firmware
deb http://ftp.de.debian.org/debian/ bookworm-updates main non-free-firmware
"""

# Debian 13 (and the container images since 12), deb822 format, comments
# between the fields.
TRIXIE_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def bash(script, *args, env=None):
    return subprocess.run(["bash", "-c", ". %s\n%s" % (SCRIPT, script), "bash"] + list(args),
                          capture_output=True, text=True, env=env, check=False)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def mirror(suite, *files):
    """(uri, signed_by) or None."""
    res = bash('apt_mirror_for_suite "$@"', suite, *files)
    if res.returncode == 1:
        assert res.stdout == ""
        return None
    assert res.returncode == 0, res.stderr
    uri, signed_by = res.stdout.rstrip("\n").split("\t")
    return uri, signed_by


def entries(*files):
    res = bash('apt_source_entries "$@"', *files)
    assert res.returncode == 0, res.stderr
    return [tuple(line.split("\t")) for line in res.stdout.splitlines()]


def test_debian_12_one_line_sources(tmp_path):
    path = write(tmp_path, "sources.list", BOOKWORM_LIST)
    assert mirror("bookworm", path) == ("http://ftp.de.debian.org/debian/", "-")
    # Only deb lines with main, comments and deb-src left out.
    assert entries(path) == [
        ("http://security.debian.org/debian-security", "bookworm-security", "-"),
        ("http://ftp.de.debian.org/debian/", "bookworm", "-"),
        ("http://ftp.de.debian.org/debian/", "bookworm-updates", "-"),
    ]


def test_debian_13_deb822_sources(tmp_path):
    path = write(tmp_path, "debian.sources", TRIXIE_SOURCES)
    assert mirror("trixie", path) == ("http://deb.debian.org/debian", KEYRING)
    assert [entry[:2] for entry in entries(path)] == [
        ("http://deb.debian.org/debian", "trixie"),
        ("http://deb.debian.org/debian", "trixie-updates"),
        ("http://deb.debian.org/debian-security", "trixie-security"),
    ]


def test_one_line_options_with_spaces_and_signed_by(tmp_path):
    path = write(tmp_path, "mirror.list", """\
        deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] http://mirror.lan:3142/debian bookworm contrib main # local cache
        """)
    assert mirror("bookworm", path) == ("http://mirror.lan:3142/debian", "/etc/apt/keyrings/mirror.gpg")


def test_a_source_without_main_is_not_a_mirror_of_the_suite(tmp_path):
    path = write(tmp_path, "sources.list", """\
        deb http://other.example/debian bookworm contrib non-free
        deb http://deb.debian.org/debian bookworm main
        """)
    assert mirror("bookworm", path) == ("http://deb.debian.org/debian", "-")


def test_the_exact_suite_wins_over_its_updates_in_an_earlier_file(tmp_path):
    first = write(tmp_path, "sources.list", "deb http://updates.example/debian bookworm-updates main\n")
    second = write(tmp_path, "main.sources", """\
        Types: deb
        URIs: http://main.example/debian
        Suites: bookworm
        Components: main
        """)
    assert mirror("bookworm", first, second) == ("http://main.example/debian", "-")


def test_updates_or_backports_name_the_mirror_when_the_suite_itself_is_absent(tmp_path):
    path = write(tmp_path, "sources.list", """\
        deb http://deb.debian.org/debian-security bookworm-security main
        deb http://backports.example/debian bookworm-backports main
        """)
    assert mirror("bookworm", path) == ("http://backports.example/debian", "-")


def test_security_archive_alone_is_no_mirror(tmp_path):
    path = write(tmp_path, "sources.list", "deb http://security.debian.org/debian-security bookworm-security main\n")
    assert mirror("bookworm", path) is None


def test_no_source_of_the_suite(tmp_path):
    path = write(tmp_path, "debian.sources", TRIXIE_SOURCES)
    assert mirror("bookworm", path) is None
    assert mirror("bookworm") is None  # no files at all


def test_deb822_disabled_deb_src_and_case_of_field_names(tmp_path):
    path = write(tmp_path, "debian.sources", """\
        Types: deb
        URIs: http://disabled.example/debian
        Suites: bookworm
        Components: main
        Enabled: no

        Types: deb-src
        URIs: http://src.example/debian
        Suites: bookworm
        Components: main

        types: deb-src deb
        uris: http://lower.example/debian
        SUITES: bookworm
        components: main contrib
        """)
    assert mirror("bookworm", path) == ("http://lower.example/debian", "-")


def test_deb822_inline_key_and_continued_fields(tmp_path):
    path = write(tmp_path, "debian.sources", """\
        Types: deb
        URIs: http://first.example/debian
         http://second.example/debian
        Suites: bookworm
        Components: main
        Signed-By:
         -----BEGIN PGP PUBLIC KEY BLOCK-----
         .
         mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD3K87ZM18gzyQZJD+w
         -----END PGP PUBLIC KEY BLOCK-----
        """)
    # An inline key is no keyring file to name in a new source.
    assert entries(path) == [("http://first.example/debian", "bookworm", "-"),
                             ("http://second.example/debian", "bookworm", "-")]


def test_deb822_last_paragraph_without_trailing_newline_and_next_file(tmp_path):
    first = write(tmp_path, "a.sources", "Types: deb\nURIs: http://a.example/debian\n"
                                         "Suites: trixie\nComponents: main")
    second = write(tmp_path, "b.list", "deb http://b.example/debian bookworm main\n")
    assert entries(first, second) == [("http://a.example/debian", "trixie", "-"),
                                      ("http://b.example/debian", "bookworm", "-")]


def test_cloud_image_mirror_uri_and_cdrom(tmp_path):
    path = write(tmp_path, "sources.list", """\
        deb cdrom:[Debian GNU/Linux 12]/ bookworm main
        deb mirror+file:/etc/apt/mirrors/debian.list bookworm main
        """)
    assert mirror("bookworm", path) == ("mirror+file:/etc/apt/mirrors/debian.list", "-")


def test_source_files_in_apt_order(tmp_path):
    root = tmp_path / "root"
    write(root, "etc/apt/sources.list", "")
    for name in ("b.sources", "a.list", "c.list.disabled", "z.sources.bak"):
        write(root, "etc/apt/sources.list.d/" + name, "")
    res = bash("apt_source_files", env=dict(os.environ, APT_SOURCES_ROOT=str(root)))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [str(root / "etc/apt" / p) for p in
                                       ("sources.list", "sources.list.d/a.list",
                                        "sources.list.d/b.sources")]


def test_source_files_of_a_machine_with_sources_list_d_only(tmp_path):
    root = tmp_path / "root"
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    res = bash("apt_source_files", env=dict(os.environ, APT_SOURCES_ROOT=str(root)))
    assert res.returncode == 0 and res.stdout == ""


@pytest.mark.parametrize("signed_by, expected", [
    (KEYRING, "Signed-By: %s\n" % KEYRING),
    ("-", ""),
])
def test_new_suite_stanza(signed_by, expected):
    res = bash('apt_suite_stanza "$@"', "trixie", "http://ftp.de.debian.org/debian/", signed_by)
    assert res.returncode == 0
    assert res.stdout == ("Types: deb\nURIs: http://ftp.de.debian.org/debian/\nSuites: trixie\n"
                          "Components: main\n" + expected)


def test_command_line_reads_the_given_files(tmp_path):
    path = write(tmp_path, "sources.list", BOOKWORM_LIST)
    res = subprocess.run(["bash", SCRIPT, "bookworm", path], capture_output=True, text=True, check=False)
    assert (res.returncode, res.stdout) == (0, "http://ftp.de.debian.org/debian/\t-\n")
    res = subprocess.run(["bash", SCRIPT, "sid", path], capture_output=True, text=True, check=False)
    assert (res.returncode, res.stdout) == (1, "")
    res = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, check=False)
    assert res.returncode == 2 and "Usage: scripts/apt-sources.sh SUITE" in res.stdout
