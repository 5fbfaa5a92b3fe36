# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory model's rules for single values: every text the plan reads
stays on its unit file line (:func:`scan_hostvars`), ports, memory sizes,
CPUs, lists, mappings, booleans, host paths, durations and health policies,
each bad value recorded as a located :class:`stack_model.Problem`.

Pure Python, no Ansible imports.
"""

from __future__ import annotations

import difflib
import math
import posixpath
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.plan.quadlet import line_problem
from ansible_collections.ai_system.containers.plugins.module_utils.model.stack_model import (
    DURATION_RE, MEMORY_RE, MEMORY_UNITS, MIN_MEMORY_BYTES, NAME_ONLY_VARS, PLAN_VARS, PORT_MAX,
    PORT_MIN, Problems,
)
from ansible_collections.ai_system.containers.plugins.module_utils.verify.zmq_health import policy_problems


# ---------------------------------------------------------------------------
# One rule for every text the plan reads: it must stay on its unit file line
# ---------------------------------------------------------------------------

def _scan_text(value: Any, problems: Problems, path: str, **where: str) -> None:
    """Refuse control characters and a trailing backslash in every string
    (keys included) under ``value``; ``path`` is the field, dotted."""
    if isinstance(value, str):
        problem = line_problem(value)
        if problem:
            problems.add("%s %s" % (path, problem),
                         "write the value on one line, without control characters or "
                         "a trailing backslash", field=path, **where)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _scan_text(key, problems, "%s key" % path, **where)
            _scan_text(item, problems, "%s.%s" % (path, key), **where)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _scan_text(item, problems, "%s[%d]" % (path, index), **where)


def _scan_group(name: Any, raw: Any, problems: Problems, prefix: str, host: str) -> None:
    """Like _scan_text for one group, located by group (and agent) name."""
    if not isinstance(raw, Mapping):
        _scan_text(raw, problems, prefix.rstrip("."), host=host, group=str(name))
        return
    for key, value in raw.items():
        if key == "agents" and isinstance(value, Mapping):
            for agent, spec in value.items():
                _scan_text(agent, problems, "%sagents key" % prefix, host=host, group=str(name))
                _scan_text(spec, problems, "%sagents.%s" % (prefix, agent), host=host,
                           group=str(name), agent=str(agent))
        else:
            _scan_text(value, problems, prefix + str(key), host=host, group=str(name))


def scan_hostvars(name: str, variables: Mapping[str, Any], problems: Problems) -> None:
    """Every text of the plan variables (PLAN_VARS), before anything is parsed."""
    for var in PLAN_VARS:
        value = variables.get(var)
        if var in NAME_ONLY_VARS:
            value = list(value) if isinstance(value, Mapping) else None
        if var in ("ai_groups", "ai_group_overrides") and isinstance(value, Mapping):
            for gname, graw in value.items():
                _scan_text(gname, problems, "%s key" % var, host=name)
                _scan_group(gname, graw, problems,
                            "" if var == "ai_groups" else var + ".", name)
        elif value is not None:
            _scan_text(value, problems, var, host=name)


# ---------------------------------------------------------------------------
# Small parsers; each returns None after recording a problem
# ---------------------------------------------------------------------------

def suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if close:
        return "did you mean '%s'?" % close[0]
    return "allowed keys: %s" % ", ".join(sorted(choices))


def check_keys(value: Mapping[str, Any], allowed: Sequence[str], problems: Problems,
               what: str, **where: str) -> None:
    for key in value:
        if key not in allowed:
            problems.add("unknown key '%s' in %s" % (key, what),
                         "%s" % suggest(str(key), allowed), field=str(key), **where)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_port(value: Any, problems: Problems, **where: str) -> Optional[int]:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not is_int(value):
        problems.add("port %r is not a whole number" % (value,),
                     "use a number between %d and %d" % (PORT_MIN, PORT_MAX), **where)
        return None
    if value < PORT_MIN or value > PORT_MAX:
        reason = "privileged/reserved" if 0 <= value < PORT_MIN else "out of range"
        problems.add("port %d is %s" % (value, reason),
                     "use a port between %d and %d" % (PORT_MIN, PORT_MAX), **where)
        return None
    return value


def parse_memory(value: Any, problems: Problems, **where: str) -> Optional[Tuple[str, int]]:
    """'2g', '512m', '1536M', '1.5g' -> ('1536m', bytes)."""
    if is_int(value):
        value = str(value)
    match = MEMORY_RE.match(value) if isinstance(value, str) else None
    if not match:
        problems.add("memory %r is not a size" % (value,),
                     "write a number with a unit, such as 512m or 2g", **where)
        return None
    number = float(match.group(1))
    nbytes = int(number * MEMORY_UNITS[match.group(2).lower()])
    if nbytes < MIN_MEMORY_BYTES:
        problems.add("memory %r is below Podman's minimum of 6 MiB" % (value,),
                     "give the group at least 6m (most agents need 256m or more)", **where)
        return None
    if nbytes % (1024 ** 2) == 0:
        text = "%dm" % (nbytes // 1024 ** 2)
    else:
        text = "%dk" % -(-nbytes // 1024)
    return text, nbytes


def parse_cpus(value: Any, problems: Problems, **where: str) -> Optional[float]:
    raw = value
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        problems.add("cpus %r is not a number" % (raw,),
                     "write a number of CPUs such as 0.5 or 2", **where)
        return None
    if value <= 0 or value > 1024:
        problems.add("cpus %r is out of range" % (value,),
                     "use a number above 0 and at most 1024", **where)
        return None
    return float(value)


def parse_string_list(value: Any, problems: Problems, what: str, **where: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        problems.add("%s must be a list" % what, "write it as a YAML list", **where)
        return []
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            problems.add("%s entry %r is not a non-empty string" % (what, item),
                         "write each entry as text", **where)
            continue
        out.append(item.strip())
    return out


def parse_mapping(value: Any, problems: Problems, what: str, **where: str) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add("%s must be a mapping" % what, "write it as 'key: value' pairs", **where)
        return {}
    return dict(value)


def parse_bool(value: Any, problems: Problems, what: str, **where: str) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    problems.add("%s must be true or false, not %r" % (what, value), "", **where)
    return None


# ---------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------

def check_host_path(value: str, problems: Problems, what: str, **where: str) -> bool:
    """An absolute, normalised host path that is not a system directory."""
    if not value.startswith("/"):
        problems.add("%s %r is not an absolute path" % (what, value),
                     "write the full path, e.g. /srv/ai-system/data", field=what, **where)
        return False
    if posixpath.normpath(value) != value or value.startswith("//"):
        problems.add("%s %r is not a normalised path" % (what, value),
                     "write it as %s (no '..', '.', '//' or trailing '/')"
                     % posixpath.normpath(value), field=what, **where)
        return False
    if "$" in value:
        problems.add("%s %r holds '$'" % (what, value),
                     "rename the directory: systemd would read '$' as a variable",
                     field=what, **where)
        return False
    return True


def parse_duration(value: Any, problems: Problems, what: str, allow_zero: bool = False,
                   **where: str) -> Optional[str]:
    """A positive Go duration (30s, 1m30s); '0s' only where allow_zero."""
    text = str(value).strip()
    zero = bool(DURATION_RE.match(text)) and not re.search(r"[1-9]", text)
    if not DURATION_RE.match(text) or (zero and not allow_zero):
        kind = "duration" if allow_zero else "positive duration"
        problems.add("%s %r is not a %s" % (what, value, kind),
                     "write a number with a unit, e.g. 30s, 2m or 1m30s", field=what, **where)
        return None
    return text


def check_policy(spec: Any, problems: Problems, fix_suffix: str = "",
                 **where: str) -> Dict[str, Any]:
    """Validate a (merged) health policy mapping, recording located problems.

    Returns the normalized values of its valid keys.
    """
    values, found = policy_problems(spec)
    for fld, message, fix in found:
        problems.add(message, fix + fix_suffix, field=fld, **where)
    return values
