#!/usr/bin/env bash
# Debian packages the test suite talks to for real: redis-server and Chromium (and faketime, espeak-ng, a CJK font).
# Installs only what is missing (needs root, as on CI machines).
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
# libfaketime: the date-proof run of the suite (scripts/date-proof.sh)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
# a CJK font, so screenshots and the report plots show Chinese text
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
