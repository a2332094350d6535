#!/usr/bin/env bash
# The README's test command: real servers up, then lint, type-check, unit, integration and end-to-end tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_NO_CLOUD=true
mkdir -p tmp/test-results
status=0
step() { local name=$1; shift; echo "::: $name"; local t0=$(date +%s); "$@"; local rc=$?; echo "::: $name: rc=$rc in $(( $(date +%s) - t0 ))s"; [ $rc -eq 0 ] || status=1; return $rc; }

step infra npm run -s infra:up || { echo "infrastructure did not start; see tmp/infra/logs"; exit 1; }
step helm bash tools/test/ensure-helm.sh || status=1
step lint npm run -s lint
step typecheck npm run -s typecheck
step unit npx jest -c jest.unit.config.js --json --outputFile=tmp/test-results/unit.json
# --forceExit: a leaked keep-alive socket in a spec must not hang CI; every spec still stops what it started.
step integration npx jest -c jest.int.config.js --runInBand --forceExit --json --outputFile=tmp/test-results/int.json
# A spec that failed before its afterAll may leave service processes behind; they would keep
# consuming and writing next to the next suite's. Name them (a leak to fix) and stop them.
reap() {
  local left; left=$(pgrep -f "apps/[a-z]+/src/main.ts" || true)
  [ -z "$left" ] && return 0
  echo "::: left running after $1 (killed):"; ps -o pid=,args= -p $(echo $left | tr ' ' ',') || true
  kill -9 $left 2>/dev/null || true
}
reap integration
step e2e npx jest -c jest.e2e.config.js --runInBand --forceExit --json --outputFile=tmp/test-results/e2e.json

# One closing line for the whole run, summed over the three jest runs.
node tools/test/summary.js tmp/test-results/unit.json tmp/test-results/int.json tmp/test-results/e2e.json || status=1
exit $status
