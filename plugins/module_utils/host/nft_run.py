# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nft_table module does, as a class and a function that return its result.

The module ai_system.containers.nft_table is a thin wrapper around :func:`run`;
ai_system.containers.host_checks calls :func:`run` in check mode for its
``firewall`` check.  The table itself (building, rendering, comparing) is nft_state's.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.ai_system.containers.plugins.module_utils.host import network_run
from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import fsync_directory
from ansible_collections.ai_system.containers.plugins.module_utils.host.firewall_spec import OPENINGS_SPEC
from ansible_collections.ai_system.containers.plugins.module_utils.host.nft_state import (
    FAMILY, compare, loaded_table, render, wanted_table,
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C"}
HEADER = (
    "The AI system's firewall table, written by ai_system.containers.nft_table: the",
    "cross-host ports on the LAN address for their peers only, and nothing else into",
    "the containers. Loaded whole, in one transaction, by ai-system-firewall.service",
    "(start and reload) and with nftables.service's own rules. Edits are replaced.",
)


class NftTableError(Exception):
    """nft_table cannot go on: ``msg`` says why, ``result`` is what it had found so far."""

    def __init__(self, msg, result=None):
        super().__init__(msg)
        self.msg = msg
        self.result = result or {}


class NftTable:
    """Compare the loaded table and the file with the plan's, and make them so.

    ``module`` runs the commands (``run_command``, ``get_bin_path``,
    ``atomic_move``); ``params`` are nft_table's options (``module.params`` by
    default); ``check_mode`` and ``diff`` default to the module's.  Problems
    raise :class:`NftTableError`.
    """

    def __init__(self, module, params=None, check_mode=None, diff=None):
        self.module = module
        p = module.params if params is None else params
        self.check_mode = module.check_mode if check_mode is None else check_mode
        self.diff = module._diff if diff is None else diff
        self.path = p["path"]
        self.name = p["table"]
        self.network = p.get("network") or ""
        self.subnet = p["subnet"]
        try:
            self.wanted = wanted_table(self.name, p["lan_address"], p["subnet"], p["openings"])
        except (ValueError, KeyError) as exc:
            raise NftTableError("cannot build the firewall table: %s" % to_text(exc))
        self.text = render(self.wanted, HEADER)
        self.nft = module.get_bin_path("nft")

    def run(self, argv):
        return self.module.run_command([self.nft] + argv, environ_update=C_LOCALE)

    def read_file(self):
        try:
            with open(self.path, "rb") as handle:
                return to_text(handle.read(), errors="surrogate_or_strict")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeError) as exc:
            raise NftTableError("cannot read %s: %s" % (self.path, to_text(exc)))

    def loaded(self):
        """The table as the kernel holds it."""
        rc, out, err = self.run(["-j", "list", "table", FAMILY, self.name])
        if rc != 0:
            if "No such file or directory" in err:
                return loaded_table(None, self.name)
            raise NftTableError("nft -j list table %s %s failed (rc=%d): %s"
                                % (FAMILY, self.name, rc, err.strip() or out.strip()))
        try:
            return loaded_table(json.loads(out), self.name)
        except ValueError as exc:
            raise NftTableError("nft -j list table %s %s printed no table: %s"
                                % (FAMILY, self.name, to_text(exc)))

    def write_file(self):
        """Check the text with ``nft -c`` and move it into place atomically."""
        directory = os.path.dirname(self.path) or "."
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(self.path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(to_bytes(self.text))
                # On disk before the rename, and the rename on disk after it: a
                # power cut leaves the old file or the new one, never an empty one.
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
        except OSError as exc:
            raise NftTableError("cannot write %s: %s" % (self.path, to_text(exc)))
        rc, out, err = self.run(["-c", "-f", tmp])
        if rc != 0:
            os.unlink(tmp)
            raise NftTableError("nft refused the table for %s (rc=%d): %s"
                                % (self.path, rc, err.strip() or out.strip()))
        self.module.atomic_move(tmp, self.path)
        try:
            fsync_directory(directory)
        except OSError as exc:
            raise NftTableError("cannot flush %s to disk: %s" % (directory, to_text(exc)))

    def load(self):
        rc, out, err = self.run(["-f", self.path])
        if rc != 0:
            raise NftTableError("nft -f %s failed (rc=%d): %s" % (self.path, rc, err.strip() or out.strip()))

    def check_network(self):
        """The table guards the subnet the containers really use: the network's
        real IPv4 subnets must be the plan's (absent: Quadlet creates it so)."""
        try:
            real = network_run.real_subnets(self.module, self.network)
        except (RuntimeError, ValueError) as exc:
            raise NftTableError("cannot read the container network %s: %s"
                                % (self.network, to_text(exc)))
        wanted = str(self.wanted_subnet())
        if real is not None and real != [wanted]:
            raise NftTableError(
                "the container network %s has %s on this host, but the table guards %s: the "
                "containers are on a subnet no rule covers; run the stack phase, which recreates "
                "the network with the plan's subnet (or set ai_network_subnet to the network's)"
                % (self.network, ", ".join(real) or "no IPv4 subnet", wanted),
                {"network_subnets": real})
        return real

    def wanted_subnet(self):
        return ipaddress.IPv4Network(str(self.subnet), strict=False)

    def result(self):
        network_subnets = self.check_network() if self.network else None
        before_text = self.read_file()
        file_matches = before_text == self.text
        rules = self.wanted.keys()
        result = {"changed": False, "table": "%s %s" % (FAMILY, self.name), "path": self.path,
                  "rules": rules, "file_matches": file_matches, "file_written": False, "loaded": False,
                  "network_subnets": network_subnets}
        if self.nft is None:
            if not self.check_mode:
                raise NftTableError("nft is not installed: install the nftables package", result)
            result.update(matches=False, present=False, missing=rules, extra=[], changed=True,
                          reason="nft is not installed (package nftables)")
            return result
        before = self.loaded()
        state = compare(self.wanted, before)
        result.update(state)
        if self.diff:
            result["diff"] = [
                {"before_header": self.path, "after_header": self.path,
                 "before": before_text or "", "after": self.text},
                {"before_header": "loaded table %s %s" % (FAMILY, self.name),
                 "after_header": "planned table %s %s" % (FAMILY, self.name),
                 "before": "".join(line + "\n" for line in before.lines),
                 "after": "".join(line + "\n" for line in rules)},
            ]
        if self.check_mode:
            result["changed"] = not (file_matches and state["matches"])
            return result
        if not file_matches:
            self.write_file()
            result.update(file_written=True, changed=True)
        if not state["matches"]:
            self.load()
            after = compare(self.wanted, self.loaded())
            if not after["matches"]:
                raise NftTableError("loaded %s, but the kernel's table still differs from the plan: %s "
                                    "(missing %s, not planned %s)"
                                    % (self.path, after["reason"], after["missing"], after["extra"]), result)
            result.update(loaded=True, changed=True)
        return result


ARGUMENT_SPEC = dict(
    OPENINGS_SPEC,
    subnet={"type": "str", "required": True},
    table={"type": "str", "default": "ai_system"},
    path={"type": "path", "default": "/etc/ai-system/firewall.nft"},
    # The Podman network whose real subnets must be O(subnet) ('' skips the check).
    network={"type": "str", "default": ""},
)


def run(module, params=None, check_mode=None, diff=None):
    """Everything nft_table does (see :class:`NftTable` for the arguments): the
    result it ends with, with ``failed: True`` and ``msg`` when the module fails."""
    try:
        return NftTable(module, params, check_mode, diff).result()
    except NftTableError as exc:
        return dict(exc.result, failed=True, msg=exc.msg)
