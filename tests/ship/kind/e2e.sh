#!/usr/bin/env bash
# make e2e-kind: the real flow on a kind cluster. Without docker (engine) or
# kind it says so and exits 0 without pretending to have run anything.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=${BIN:-$ROOT/.venv/bin}
CLUSTER=tradewarden-e2e
NS=tradewarden-dev
IMAGE=ghcr.io/tradewarden/tradewarden:dev

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  echo "e2e-kind: NOT RUN - no docker engine on this machine"; exit 0
fi
if ! command -v kind >/dev/null; then
  echo "e2e-kind: NOT RUN - kind is not installed"; exit 0
fi
HELM=$("$BIN/python" -P -m tradewarden.operator.toolchain where | awk '/^helm:/{print $2}')
KUBECTL=$("$BIN/python" -P -m tradewarden.operator.toolchain where | awk '/^kubectl:/{print $2}')

cleanup() { kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; }
trap cleanup EXIT

docker build -t "$IMAGE" "$ROOT"
kind create cluster --name "$CLUSTER" --wait 120s
kind load docker-image "$IMAGE" --name "$CLUSTER"
"$KUBECTL" create namespace "$NS" --dry-run=client -o yaml \
  | "$KUBECTL" label --local -f - pod-security.kubernetes.io/enforce=restricted -o yaml \
  | "$KUBECTL" apply -f -
"$HELM" install tradewarden "$ROOT/helm/tradewarden" -n "$NS" \
  -f "$ROOT/helm/tradewarden/values-dev.yaml" --wait --timeout 5m
"$KUBECTL" -n "$NS" wait --for=jsonpath='{.status.phase}'=Running tb/btc-grid-dev --timeout=300s
"$KUBECTL" -n "$NS" patch tb btc-grid-dev --type=merge --field-manager=kubectl-tradewarden \
  -p '{"spec":{"emergencyStop":{"action":"Halt","reason":"e2e-kind"}}}'
"$KUBECTL" -n "$NS" wait --for=jsonpath='{.status.tradingMode}'=Halted tb/btc-grid-dev --timeout=120s
"$HELM" uninstall tradewarden -n "$NS" --wait
# The CRD (and so the bots) survive helm uninstall.
"$KUBECTL" get crd tradingbots.tradewarden.io
echo "e2e-kind: PASSED"
