#!/bin/sh
# Installs Debian's chromium (/usr/bin/chromium) for the browser test and the
# report's PNG export. Idempotent: does nothing when it is already there.
# Called by `make test` (target `chromium`); the tests never install anything.
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "chromium: already installed ($("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "chromium: $CHROMIUM is missing and this is not root and sudo is not available;" >&2
    echo "          install it with: apt-get install -y --no-install-recommends chromium" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: $CHROMIUM is missing and apt-get is not available (not Debian/Ubuntu?);" >&2
    echo "          install a Chromium and point BROWSER_PATH at it" >&2
    exit 1
fi

echo "chromium: $CHROMIUM is missing; installing Debian's chromium package"
${SUDO} apt-get update
DEBIAN_FRONTEND=noninteractive ${SUDO} apt-get install -y --no-install-recommends chromium
echo "chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
