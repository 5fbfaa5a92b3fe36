# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects as YAML text, the way the kube_manifests action writes them."""

from __future__ import annotations

import yaml

HEADER = "# Managed by ai_system.containers: generated from the inventory, do not edit.\n"


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order given, multi-line text as literal
    blocks, no anchors (an object used twice is written twice)."""

    def ignore_aliases(self, data):
        return True


def _text(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_documents(documents):
    """One or more objects as one YAML stream, after the managed-file header."""
    parts = [yaml.dump(doc, Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                       allow_unicode=True, width=100) for doc in documents]
    return HEADER + "---\n" + "---\n".join(parts)
