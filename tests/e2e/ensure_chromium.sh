#!/usr/bin/env bash
# Make sure a Chromium for the browser test (tests/e2e) is installed; idempotent, never fails `make test`.
# Debian/Ubuntu: installs Debian's `chromium` package with apt (as root, or with passwordless sudo).
# Elsewhere (macOS, no root): prints why nothing was installed; the browser test then skips with that reason.
# NST_E2E_BROWSER=/path/to/chromium-or-chrome picks a browser yourself.
set -u
for candidate in "${NST_E2E_BROWSER:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        exit 0
    fi
done
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: no apt-get here; install Chromium or Chrome and set NST_E2E_BROWSER to run the browser test" >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "ensure_chromium: not root and no passwordless sudo; run 'sudo apt-get install -y chromium' for the browser test" >&2
    exit 0
fi
echo "ensure_chromium: installing Debian's chromium package for the browser test (tests/e2e) ..." >&2
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! $SUDO apt-get install -y -q chromium </dev/null >"$log" 2>&1; then
    # a fresh machine or container has no package lists yet
    $SUDO apt-get update -q </dev/null >>"$log" 2>&1
    $SUDO apt-get install -y -q chromium </dev/null >>"$log" 2>&1 \
        || { echo "ensure_chromium: apt-get could not install chromium (log below); the browser test will skip" >&2; tail -n 20 "$log" >&2; }
fi
rm -f "$log"
exit 0
