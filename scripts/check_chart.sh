#!/usr/bin/env bash
# Checks the Helm chart charts/tessera offline: helm lint (strict), values schema, rendering of every
# value set in charts/tessera/ci/, Kubernetes 1.33 schema validation (strict) of every manifest,
# schemas of the KEDA and prometheus-operator resources, and the chart's invariants (scripts/check_chart.py).
#
# No helm binary is needed: helm-python-sdk carries Helm's Go SDK (lint, render) in a wheel.
# The tools are installed at pinned versions into a virtualenv under ~/.cache the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

PINS=(
  helm-python-sdk==0.2.2
  kubernetes-validate==1.37.0
  yamllint==1.38.0
  jsonschema==4.26.0
  PyYAML==6.0.3
)
VENV="${TESSERA_CHART_VENV:-$HOME/.cache/tessera-chart-check/venv}"
STAMP="$VENV/.pins"

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "${PINS[*]}" ]; then
  echo "check_chart: installing ${PINS[*]} into $VENV"
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    # Debian's python3 ships venv and ensurepip in python3-venv.
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
  echo "${PINS[*]}" >"$STAMP"
fi

exec "$VENV/bin/python" scripts/check_chart.py "$@"
