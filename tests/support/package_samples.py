# -*- coding: utf-8 -*-
"""What package managers print, captured for the package_versions tests."""

from __future__ import annotations

from typing import Iterable

TRIXIE_PINNED = """\
podman:
  Installed: 5.4.2+ds1-2+b2
  Candidate: 5.4.2+ds1-2+b2
  Version table:
 *** 5.4.2+ds1-2+b2 100
        100 http://deb.debian.org/debian trixie/main amd64 Packages
        100 /var/lib/dpkg/status
     4.3.1+ds1-8+deb12u1+b3 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
crun:
  Installed: (none)
  Candidate: 1.8.1-1+deb12u1
  Version table:
     1.21-1 100
        100 http://deb.debian.org/debian trixie/main amd64 Packages
     1.8.1-1+deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
python3-zmq:
  Installed: (none)
  Candidate: 24.0.1-4+b1
  Version table:
     26.4.0-1 100
        100 http://deb.debian.org/debian trixie/main amd64 Packages
     24.0.1-4+b1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
python3-pynvml:
  Installed: (none)
  Candidate: (none)
  Version table:
python3-pip:
  Installed: 25.1.1+dfsg-1
  Candidate: 25.1.1+dfsg-1
  Version table:
 *** 25.1.1+dfsg-1 100
        100 http://deb.debian.org/debian trixie/main amd64 Packages
        100 /var/lib/dpkg/status
     23.0.1+dfsg-1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
"""

# Installed older than the candidate, several tables per version, epochs.
TRIXIE_UPGRADES = """\
ca-certificates:
  Installed: 20230311+deb12u1
  Candidate: 20250419~deb12u2
  Version table:
     20250419+deb13u1 100
        100 http://deb.debian.org/debian trixie/main amd64 Packages
     20250419~deb12u2 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 20230311+deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
        100 /var/lib/dpkg/status
vim:
  Installed: 2:9.0.1378-2+deb12u2
  Candidate: 2:9.0.1378-2+deb12u2
  Version table:
     2:9.1.1230-2+deb13u2 100
        100 http://deb.debian.org/debian trixie/main amd64 Packages
 *** 2:9.0.1378-2+deb12u2 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
openssh-client:
  Installed: 1:10.0p1-7+deb13u4
  Candidate: 1:10.0p1-7+deb13u4
  Version table:
 *** 1:10.0p1-7+deb13u4 100
        100 http://deb.debian.org/debian trixie/main amd64 Packages
        100 /var/lib/dpkg/status
     1:9.2p1-2+deb12u10 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
     1:9.2p1-2+deb12u9 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
     1:9.2p1-2+deb12u7 500
        500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
"""

BOOKWORM = """\
podman:
  Installed: (none)
  Candidate: 4.3.1+ds1-8+deb12u1+b3
  Version table:
     4.3.1+ds1-8+deb12u1+b3 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
runc:
  Installed: (none)
  Candidate: 1.1.5+ds1-1+deb12u1
  Version table:
     1.1.5+ds1-1+deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
"""

# rpm --query --queryformat '%{NAME} %{VERSION}\n' podman crun python3-zmq
RPM_QUERY = """\
podman 5.2.2
crun 1.16.1
package python3-zmq is not installed
"""

# dnf --quiet repoquery --latest-limit=1 --queryformat '%{name} %{version}\n' ...
# (one line per architecture; dnf4 ends each entry with a blank line)
DNF_REPOQUERY = """\
crun 1.19.1

podman 5.4.0

python3-zmq 25.1.2
python3-zmq 25.1.2

"""


def only(policy: str, names: Iterable[str]) -> str:
    """The blocks of ``apt-cache policy`` output for ``names``, in that order."""
    blocks = {}
    name = None
    for line in policy.splitlines(keepends=True):
        if not line.startswith(" ") and line.endswith(":\n"):
            name = line[:-2]
        blocks[name] = blocks.get(name, "") + line
    return "".join(blocks[n] for n in names)
