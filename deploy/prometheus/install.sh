#!/usr/bin/env bash
# Install `prometheus` and `promtool` from Debian's package when either is missing.
# Idempotent: does nothing when both are on PATH. Never starts the packaged service: the
# tests and the dashboard check run their own Prometheus with a temporary config, and there
# may be no systemd at all (containers, CI).
set -euo pipefail

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  echo "prometheus already installed: $(prometheus --version 2>&1 | head -1)"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install.sh: no apt-get; install Prometheus (prometheus + promtool) from https://prometheus.io/download/" >&2
  exit 1
fi
SUDO=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "install.sh: needs root or sudo" >&2; exit 1; }
  SUDO=sudo
fi

# invoke-rc.d consults policy-rc.d before starting a service; exit 101 = "not allowed".
# Only add our own when none exists, and remove exactly that one afterwards.
POLICY=/usr/sbin/policy-rc.d
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  trap '$SUDO rm -f "$POLICY"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends prometheus
echo "installed: $(prometheus --version 2>&1 | head -1); $(promtool --version 2>&1 | head -1)"
