# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight report of every host: ``preflight.json`` and
``preflight.md`` under the report directory, made from each host's result of
the preflight module (see the preflight_report action plugin).

Pure Python, no Ansible imports.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Sequence, Tuple

from ansible_collections.ai_system.containers.plugins.module_utils.common.atomic_file import write_text
from ansible_collections.ai_system.containers.plugins.module_utils.report.report_model import utc_stamp

FORMAT = 1
# What the report keeps of each host's preflight result (the rest is the
# terminal's and the playbook's).
ENTRY_KEYS = ("ready", "counts", "platform", "items")
RESULT_KEYS = ENTRY_KEYS + ("markdown",)


def result_problem(host: str, result: Any) -> str:
    """Why ``result`` is not a preflight module's result for ``host``; '' when it is."""
    if not isinstance(result, Mapping):
        return "results[%s] is not the preflight module's result (a dict), got %s" % (
            host, type(result).__name__)
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        return ("results[%s] is not the preflight module's result: %s missing (did the host's "
                "preflight task run?)" % (host, ", ".join(missing)))
    return ""


def preflight_document(results: Mapping[str, Mapping[str, Any]], hosts: Sequence[str],
                       generated_at: str = "") -> Tuple[Dict[str, Any], str]:
    """The report's JSON document and its Markdown, the hosts in ``hosts``'
    order, stamped ``generated_at`` (default: now, as the verify report is)."""
    generated_at = generated_at or utc_stamp()
    document = {
        "format": FORMAT,
        "generated_at": generated_at,
        "ready": all(results[host]["ready"] for host in hosts),
        "hosts": {host: {key: results[host][key] for key in ENTRY_KEYS} for host in hosts},
    }
    markdown = "# AI system preflight %s\n\n" % generated_at + "".join(
        "%s\n" % results[host]["markdown"] for host in hosts)
    return document, markdown


def report_paths(dest: str) -> Dict[str, str]:
    """Where the report is written, ``dest`` made absolute."""
    base = os.path.abspath(os.path.expanduser(dest))
    return {"json": os.path.join(base, "preflight.json"), "markdown": os.path.join(base, "preflight.md")}


def write_preflight(dest: str, document: Mapping[str, Any], markdown: str) -> Dict[str, str]:
    """Write both files (each whole or not at all); return their paths."""
    paths = report_paths(dest)
    os.makedirs(os.path.dirname(paths["json"]), mode=0o755, exist_ok=True)
    write_text(paths["json"], json.dumps(document, indent=4, sort_keys=True) + "\n")
    write_text(paths["markdown"], markdown)
    return paths
