#!/usr/bin/env bash
# helm for tools/deploy/helm-chart.spec.ts (renders the chart with the real helm). Debian 12 has no
# helm package and no registry ships a binary we may fetch, so it is built once from the Go module
# proxy into ~/go/bin (about 9 min on 2 cores; then cached there for every later run).
set -euo pipefail
HELM_VERSION=v3.21.4
for c in "${HELM:-}" "$(command -v helm || true)" "${GOPATH:-$HOME/go}/bin/helm"; do
  if [ -n "$c" ] && [ -x "$c" ]; then echo "helm: $c"; exit 0; fi
done
command -v go >/dev/null || { echo "helm: not found, and no Go toolchain to build it"; exit 1; }
echo "helm: building helm.sh/helm/v3/cmd/helm@$HELM_VERSION into ${GOPATH:-$HOME/go}/bin (once)…"
go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "helm: ${GOPATH:-$HOME/go}/bin/helm"
