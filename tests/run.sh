#!/usr/bin/env bash
# Install what the tests need on a fresh machine, then run the whole suite.
# The README's quick start and .ci/run both call this one script.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests drive: dbus-daemon (the BlueZoo Bluetooth rig),
# mandoc (man page lint), PostgreSQL (the hub), zbarimg (reads QR payment
# codes back), jq and curl (the README's hook examples). Installed only when
# missing, and only as root.
need=()
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus)
command -v mandoc >/dev/null 2>&1 || need+=(mandoc)
# PostgreSQL (the hub tests start their own server; Debian keeps initdb in /usr/lib/postgresql/NN/bin)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
command -v jq >/dev/null 2>&1 || need+=(jq)      # the README's hook examples (tests/cli/test_readme_hooks.py)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "tests/run.sh: please install: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# Compile the sources once, up front: the till's tests import from two
# threads at once, and CPython 3.11 before 3.11.9 can fail to compile in one
# thread while another compiles (cpython#106905).
.venv/bin/python -m compileall -q mpos_cli drivers receipts >/dev/null

set +e
.venv/bin/python -m pytest -q "$@"
status=$?
set -e
if [ $status -eq 5 ]; then
  echo "tests/run.sh: pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit $status
