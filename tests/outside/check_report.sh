#!/usr/bin/env bash
# Render a run report (report.html) in headless Chromium to a PNG and check that the page is not blank.
#
#     tests/outside/check_report.sh REPORT.html PYTHON
#
# Installs Debian's chromium with apt-get when /usr/bin/chromium is missing (CI runs as root); fails,
# never skips, when it cannot. PYTHON is the venv's interpreter with pypng (tests/outside/requirements.txt).
set -euo pipefail
report="$(realpath "$1")"
python="$2"
here="$(cd "$(dirname "$0")" && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package) for the report check"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is missing and could not be installed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Offline and quiet: no network, no first-run or background services, a throwaway profile.
/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --screenshot="$work/report.png" --window-size=1200,2000 \
  "file://$report" >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; exit 1; }
[ -s "$work/report.png" ] || { cat "$work/chromium.log" >&2; echo "FAIL: chromium wrote no screenshot" >&2; exit 1; }
"$python" "$here/check_png.py" "$work/report.png"
