#!/usr/bin/env bash
# The suite's date-proof run: the core and server tests again with the machine's clock moved far
# away (Debian's libfaketime), so a date bomb — something measured on a second clock, a fixed
# date that expires — fails CI the day it is written, not a year later on a clean clone.
#   1. 400 days ahead of today;
#   2. 2027-12-31 23:59:30 in Asia/Shanghai (the example hall's zone): the last seconds of a
#      year, of a day, in the hall's own time zone, crossing midnight while the tests run.
# Services the fixtures start (redis-server) run without the preload (tests/conftest.py:service_env).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST="${PYTEST:-.venv/bin/pytest}"
command -v faketime >/dev/null 2>&1 || { echo "faketime is missing: run scripts/system-deps.sh" >&2; exit 1; }
echo "== date-proof: tests/core tests/server with the clock 400 days ahead"
faketime '+400 days' "$PYTEST" -q -p no:cacheprovider tests/core tests/server
echo "== date-proof: tests/core tests/server at 2027-12-31 23:59:30 Asia/Shanghai"
TZ=Asia/Shanghai faketime '2027-12-31 23:59:30' "$PYTEST" -q -p no:cacheprovider tests/core tests/server
