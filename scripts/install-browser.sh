#!/usr/bin/env bash
# Installs headless Chromium (Debian's chromium and chromium-driver) for the
# browser test (tests/test_browser_consent.py), unless it is already there.
# Idempotent and quiet: prints nothing when there is nothing to do.
# Needs root (or sudo) on Debian or Ubuntu; elsewhere, install Chromium yourself.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; install Chromium (chromium, chromium-driver) yourself" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be missing (a fresh container) or stale: refresh and retry once.
if ! $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
command -v chromium >/dev/null
