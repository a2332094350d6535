#!/usr/bin/env bash
# The dashboard validator for apps/exporters/src/dashboards/dashboards-schema.int-spec.ts: this
# folder's Go program, on the Grafana foundation SDK's Go module from the Go module proxy. Built once
# per source version into ${GOPATH:-$HOME/go}/bin (about 80 s on 2 cores with a cold Go build cache,
# about 1 s after), then reused. Prints the binary's path on its last line.
set -euo pipefail
cd "$(dirname "$0")"
command -v go >/dev/null || { echo "dashboard-validate: no Go toolchain to build it" >&2; exit 1; }
stamp=$(cat go.mod go.sum main.go | sha256sum | cut -c1-12)
bin="${GOPATH:-$HOME/go}/bin/headroom-dashboard-validate-$stamp"
if [ ! -x "$bin" ]; then
  echo "dashboard-validate: building $bin (once per source version)…" >&2
  mkdir -p "$(dirname "$bin")"
  go build -o "$bin.tmp" . && mv "$bin.tmp" "$bin"
fi
echo "$bin"
