#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/test_browser.py) when it is missing.
# Playwright drives this binary; `playwright install` (a download of its own) is never used.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-browser: /usr/bin/chromium is missing; run this script as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
