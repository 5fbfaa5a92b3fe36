# -*- coding: utf-8 -*-
"""phase_record.written_paths: the paths in the writing modules' results.

The results are shaped as the modules return them (their RETURN docs and
ansible-core's modules); tests/functional/test_phase_record_playbook.py runs
the real modules."""

from __future__ import annotations

import pytest

from ansible_collections.ai_system.containers.plugins.module_utils.host.phase_record import (
    record_files,
    written_paths,
)


@pytest.mark.parametrize("result,paths", [
    ({"changed": True, "dest": "/etc/a.conf", "src": "/tmp/x"}, ["/etc/a.conf"]),  # copy, template
    ({"changed": False, "path": "/etc/a.d", "state": "directory"}, ["/etc/a.d"]),  # file
    ({"changed": False, "path": "/etc/old", "state": "absent"}, ["/etc/old"]),
    ({"dest": "/etc/apt/sources.list.d/x.sources", "key_filename": "/etc/apt/keyrings/x.asc",
      "repo": "Types: deb\n"}, ["/etc/apt/sources.list.d/x.sources", "/etc/apt/keyrings/x.asc"]),  # deb822
    ({"repo": "x", "state": "present", "diff": {"before_header": "/etc/yum.repos.d/x.repo",
                                                "after_header": "/etc/yum.repos.d/x.repo"}},
     ["/etc/yum.repos.d/x.repo"]),  # yum_repository
    ({"path": "/etc/ai", "written": ["b.json"], "unchanged": ["a/c.json"], "removed": ["old.json"]},
     ["/etc/ai/b.json", "/etc/ai/a/c.json", "/etc/ai/old.json"]),  # file_set
    ({"path": "/etc/ai", "written": [], "unchanged": [], "removed": []}, ["/etc/ai"]),
    ({"created": ["/srv/new"], "present": ["/srv/old"]}, ["/srv/new", "/srv/old"]),  # host_dirs
    ({"path": "/etc/ai-system/firewall.nft", "written": False}, ["/etc/ai-system/firewall.nft"]),  # nft_table
    ({"path": "/etc/ai-system/firewall.nft", "written": True, "loaded": True}, ["/etc/ai-system/firewall.nft"]),
    ({"results": [{"dest": "/u/a", "item": "a"}, {"skipped": True, "item": "b"}, {"dest": "/u/c"}]},
     ["/u/a", "/u/c"]),  # a loop
    ({"skipped": True, "changed": False}, []),
    (None, []),
    ("", []),
    ({"dest": "relative/path"}, []),
])
def test_written_paths(result, paths):
    assert written_paths([result]) == paths


def test_each_path_once_in_order():
    assert written_paths([{"dest": "/a"}, {"path": "/b"}, {"dest": "/a"}]) == ["/a", "/b"]


def test_record_files_keeps_the_listed_ones_first():
    assert record_files(["/etc/os-release", "/b"], [{"dest": "/a"}, {"path": "/b"}]) == \
        ["/etc/os-release", "/b", "/a"]
    assert record_files([], []) == []
