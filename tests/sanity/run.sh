#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as
# ansible_collections/ai_system/containers, as ansible-test requires.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${VENV_BIN:-$repo/.venv/bin}
work=$(mktemp -d "${TMPDIR:-/tmp}/ai-system-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/ai_system/containers
python=$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

mkdir -p "$dest"
# What git would ship: tracked files plus new, not-ignored ones; not the
# collections/ link (it points back at the repository).
cd "$repo"
git ls-files -z --cached --others --exclude-standard | grep -zv -e '^collections/' |
    while IFS= read -r -d '' file; do
        # Skip tracked files deleted in the working tree.
        if [ -e "$file" ] || [ -L "$file" ]; then
            cp --parents -P -t "$dest" "$file"
        fi
    done
# ansible-test fetches a pip bootstrap script from a host outside the package
# index; give it an offline one instead.
pip_version=$("$bin/python" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal",
                        "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
cp "$repo/tests/sanity/get_pip_offline.py" "$cache/get_pip_${pip_version//./_}.py"

cd "$dest"
# ansible-test reads the file list from git when there is a repository.
git init -q && git add -A >/dev/null
export PATH="$bin:$PATH"
"$bin/ansible-test" sanity --python "$python" --requirements --color no "$@"
