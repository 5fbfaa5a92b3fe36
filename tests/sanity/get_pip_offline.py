# -*- coding: utf-8 -*-
"""Offline replacement for the get-pip.py script ansible-test downloads.

ansible-test bootstraps pip in each sanity virtualenv with a script fetched
from a host that is not reachable from every build machine. This does the
same job from the interpreter's own ensurepip wheel, then lets pip install
the requested pip version from the configured package index.
"""

from __future__ import annotations

import subprocess
import sys

IGNORED = {"--no-setuptools", "--no-wheel"}

# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null while it
# runs, and the install below must see the machine's pip configuration.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] +
                      [arg for arg in sys.argv[1:] if arg not in IGNORED])
