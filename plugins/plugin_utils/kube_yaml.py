# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects as YAML text, the way the kube_manifests action writes them."""

from __future__ import annotations

from collections.abc import Mapping

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


def _untagged(value):
    """Ansible hands over subclasses of str, int and float (tagged values);
    the dumper knows the plain types only."""
    if isinstance(value, Mapping):
        return {_untagged(k): _untagged(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_untagged(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


def dump_documents(documents):
    """One or more objects as one YAML stream, after the managed-file header."""
    parts = [yaml.dump(_untagged(doc), Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                       allow_unicode=True, width=100) for doc in documents]
    return HEADER + "---\n" + "---\n".join(parts)
