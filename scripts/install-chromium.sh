#!/usr/bin/env bash
# Installs Debian's chromium package for the browser test of Bull Board
# (apps/api/test/bull-board.browser.test.ts drives it through playwright-core with
# executablePath /usr/bin/chromium; no browser build is ever downloaded).
# Does nothing when /usr/bin/chromium is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get here; install Debian/Ubuntu's chromium so that /usr/bin/chromium exists" >&2
  exit 1
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
echo "install-chromium: installing Debian's chromium (for the Bull Board browser test)"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version 2>/dev/null || true
