#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tierup's kube tests:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# (which plays the kubelet for fake nodes), and Karpenter's controller with its
# kwok cloud provider (which launches NodeClaims as kwok nodes), all built from
# the Go module proxy; and the CRDs tierup's objects need: Karpenter's,
# Velero's Schedule, and prometheus-operator's ServiceMonitor and
# PrometheusRule (for the Helm chart's).
#
#   scripts/k8s-testenv.sh install   # build once into the cache (16-35 min cold, 0 s warm)
#   scripts/k8s-testenv.sh up        # start; prints the kubeconfig path
#   scripts/k8s-testenv.sh down      # stop by PID
#   scripts/k8s-testenv.sh status    # exit 0 when it is up and answering
#   scripts/k8s-testenv.sh env       # the TIERUP_TEST_* variables the tests read, as NAME=value lines
#                                    # (TIERUP_TEST_KARPENTER=1 when Karpenter's controller answers)
#
# TIERUP_K8S_CACHE (default $HOME/.cache/tierup-k8s) holds binaries and sources;
# TIERUP_K8S_RUN (default $TIERUP_K8S_CACHE/run) holds certificates, data, logs
# and PIDs of the running control plane. TIERUP_K8S_PORT (default 16443) is the
# API server's port; etcd takes the two ports after it, Karpenter's metrics and
# health probes the two after those.
set -euo pipefail

K8S_VERSION=v1.37.1
STAGING_VERSION=v0.37.1
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
KARPENTER_VERSION=v1.12.0
VELERO_VERSION=v1.18.3
PROMETHEUS_OPERATOR_VERSION=v0.94.1

CACHE="${TIERUP_K8S_CACHE:-$HOME/.cache/tierup-k8s}"
RUN="${TIERUP_K8S_RUN:-$CACHE/run}"
BIN="$CACHE/bin"
PORT="${TIERUP_K8S_PORT:-16443}"
ETCD_PORT=$((PORT + 1))
ETCD_PEER_PORT=$((PORT + 2))
KARPENTER_METRICS_PORT=$((PORT + 3))
KARPENTER_HEALTH_PORT=$((PORT + 4))
# Karpenter's own namespace (SYSTEM_NAMESPACE) and the KWOKNodeClass the test
# NodePools point at.
KARPENTER_NAMESPACE=karpenter
KARPENTER_NODECLASS=default
TOKEN="tierup-test-token"

say() { printf '==> k8s-testenv: %s\n' "$*" >&2; }
die() {
  printf 'k8s-testenv: %s\n' "$*" >&2
  # A start that failed half-way stops what it started.
  [[ "${STARTING:-}" == 1 ]] && STARTING= && down
  exit 1
}


export CGO_ENABLED=0

# go_minor is the running Go's language version (1.26), for wrapper modules.
go_minor() { go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/'; }

installed() {
  [[ -x "$BIN/kube-apiserver" && -x "$BIN/kube-controller-manager" && -x "$BIN/kube-scheduler" &&
    -x "$BIN/etcd" && -x "$BIN/kwok" && -x "$BIN/karpenter-kwok" && -f "$CACHE/stages/.done" && -f "$CACHE/crds/.done" &&
    -f "$CACHE/karpenter-kwok-crds/.done" && -f "$CACHE/velero-crds/.done" && -f "$CACHE/prometheus-operator-crds/.done" ]]
}

build_kubernetes() {
  [[ -x "$BIN/kube-apiserver" && -x "$BIN/kube-controller-manager" && -x "$BIN/kube-scheduler" ]] && return 0
  local dir="$CACHE/src/kubernetes"
  mkdir -p "$dir" "$BIN"
  say "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION (cold: 14-32 min)"
  local gomod
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' || true)
  [[ -f "$gomod" ]] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  {
    echo "module tierup.dev/k8s-testenv/kubernetes"
    echo
    echo "go $(go_minor)"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    # The kubernetes module points its staging modules at ./staging; outside
    # its own repository they must come from the proxy at the matching version.
    grep -oE '^[[:space:]]*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | grep -v '^k8s.io/sample-' |
      while read -r m; do echo "replace $m => $m $STAGING_VERSION"; done
  } >"$dir/go.mod"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=37 -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    [[ -x "$BIN/$cmd" ]] && continue
    say "go build $cmd"
    (cd "$dir" && go build -mod=mod -trimpath -ldflags "$ldflags" -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd") || die "building $cmd failed"
    mv "$BIN/$cmd.tmp" "$BIN/$cmd"
  done
}

build_etcd() {
  [[ -x "$BIN/etcd" ]] && return 0
  local dir="$CACHE/src/etcd"
  mkdir -p "$dir" "$BIN"
  say "building etcd $ETCD_VERSION"
  cat >"$dir/go.mod" <<EOF
module tierup.dev/k8s-testenv/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  cat >"$dir/main.go" <<'EOF'
// Command etcd runs etcd's own main; `go install` of etcd is refused because
// its modules carry replace directives, so this wrapper module builds it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  (cd "$dir" && go mod tidy && go build -mod=mod -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" .) || die "building etcd failed"
  mv "$BIN/etcd.tmp" "$BIN/etcd"
}

# copy_from_module DEST MODULE@VERSION FILE... copies files (globs allowed)
# out of a module in the Go module cache into DEST, once.
copy_from_module() {
  local dest=$1 mod=$2 dir f
  shift 2
  [[ -f "$dest/.done" ]] && return 0
  dir=$(go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' || true)
  [[ -d "$dir" ]] || die "could not download $mod"
  mkdir -p "$dest"
  for f in "$@"; do
    compgen -G "$dir/$f" >/dev/null || die "$f not found in $mod"
    # shellcheck disable=SC2086 # f may be a glob
    cp "$dir"/$f "$dest/"
  done
  chmod u+w "$dest"/*
  touch "$dest/.done"
}

build_kwok() {
  if [[ ! -x "$BIN/kwok" ]]; then
    say "installing kwok $KWOK_VERSION"
    GOBIN="$BIN" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || die "installing kwok failed"
  fi
  # The "fast" stages: a node is Ready and a pod Running as soon as kwok sees them.
  copy_from_module "$CACHE/stages" "sigs.k8s.io/kwok@$KWOK_VERSION" \
    kustomize/stage/node/fast/node-initialize.yaml kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    kustomize/stage/pod/fast/pod-ready.yaml kustomize/stage/pod/fast/pod-complete.yaml kustomize/stage/pod/fast/pod-delete.yaml
}

fetch_karpenter_crds() {
  copy_from_module "$CACHE/crds" "sigs.k8s.io/karpenter@$KARPENTER_VERSION" 'pkg/apis/crds/*.yaml'
  copy_from_module "$CACHE/karpenter-kwok-crds" "sigs.k8s.io/karpenter@$KARPENTER_VERSION" 'kwok/apis/crds/*.yaml'
}

# build_karpenter builds Karpenter's controller with its kwok cloud provider
# (sigs.k8s.io/karpenter/kwok): it launches each NodeClaim as a Node annotated
# kwok.x-k8s.io/node=fake, which the kwok that `up` starts then runs.
build_karpenter() {
  [[ -x "$BIN/karpenter-kwok" ]] && return 0
  local dir="$CACHE/src/karpenter"
  mkdir -p "$dir" "$BIN"
  say "building Karpenter $KARPENTER_VERSION with its kwok cloud provider (cold: 2-5 min)"
  # A wrapper module, as for etcd, pinned to the version: a bare
  # `go build sigs.k8s.io/karpenter/kwok` would resolve the newest one.
  cat >"$dir/go.mod" <<EOF
module tierup.dev/k8s-testenv/karpenter

go $(go_minor)

require sigs.k8s.io/karpenter $KARPENTER_VERSION
EOF
  (cd "$dir" && go build -mod=mod -trimpath -ldflags "-s -w" -o "$BIN/karpenter-kwok.tmp" sigs.k8s.io/karpenter/kwok) ||
    die "building Karpenter's kwok controller failed"
  mv "$BIN/karpenter-kwok.tmp" "$BIN/karpenter-kwok"
}

fetch_velero_crds() {
  copy_from_module "$CACHE/velero-crds" "github.com/vmware-tanzu/velero@$VELERO_VERSION" config/crd/v1/bases/velero.io_schedules.yaml
}

# The Helm chart's ServiceMonitor and PrometheusRule; their CRDs come out of
# the operator's module, as its example/prometheus-operator-crd has them.
fetch_prometheus_operator_crds() {
  copy_from_module "$CACHE/prometheus-operator-crds" "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
    example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
    example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml
}

install() {
  command -v go >/dev/null || die "Go is not installed"
  local tool missing=()
  for tool in openssl curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if ((${#missing[@]})) && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || true
  fi
  command -v openssl >/dev/null || die "openssl is needed for the test certificates (apt-get install openssl)"
  command -v curl >/dev/null || die "curl is needed to probe the control plane (apt-get install curl)"
  fetch_karpenter_crds
  fetch_velero_crds
  fetch_prometheus_operator_crds
  build_kwok
  build_karpenter
  build_etcd
  build_kubernetes
  installed || die "install incomplete"
  say "installed into $BIN"
}

# ours reports whether pid is still one of this control plane's processes:
# after a reboot the pids file may name someone else's.
ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$BIN/"; }

running() {
  [[ -s "$RUN/pids" ]] || return 1
  local pid
  while read -r pid _; do ours "$pid" || return 1; done <"$RUN/pids"
}

down() {
  if [[ -f "$RUN/pids" ]]; then
    # Reverse start order: kwok and controllers before the API server and etcd.
    tac "$RUN/pids" | while read -r pid name; do
      if ours "$pid"; then kill "$pid" 2>/dev/null && say "stopped $name ($pid)" || true; fi
    done
    for _ in $(seq 1 50); do
      local alive=0
      while read -r pid _; do ours "$pid" && alive=1; done <"$RUN/pids"
      [[ $alive == 0 ]] && break
      sleep 0.1
    done
    while read -r pid _; do if ours "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi; done <"$RUN/pids"
    rm -f "$RUN/pids"
  fi
}

certs() {
  local pki="$RUN/pki"
  [[ -f "$pki/apiserver.crt" ]] && return 0
  command -v openssl >/dev/null || die "openssl is needed to make the test certificates"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=tierup-test-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile ext.cnf 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  printf '%s,admin,admin,system:masters\n' "$TOKEN" >"$pki/tokens.csv"
}

kubeconfig() {
  cat >"$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tierup-test
  cluster:
    server: https://127.0.0.1:$PORT
    certificate-authority: $RUN/pki/ca.crt
users:
- name: admin
  user:
    token: $TOKEN
contexts:
- name: tierup-test
  context:
    cluster: tierup-test
    user: admin
current-context: tierup-test
EOF
}

start() {
  local name=$1
  shift
  "$@" >"$RUN/logs/$name.log" 2>&1 &
  echo "$! $name" >>"$RUN/pids"
}

wait_for() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "$what did not become ready in ${seconds}s (logs: $RUN/logs)"
}

api_ready() { curl -fsk -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/readyz"; }
served() { curl -fsk -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT$1"; }
karpenter_healthy() { curl -fs "http://127.0.0.1:$KARPENTER_HEALTH_PORT/healthz"; }

# create PATH: POSTs the YAML object on stdin to the API server (there is no
# kubectl here); one that exists already is kept.
create() {
  local code
  code=$(curl -sk -o "$RUN/logs/create.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/yaml' --data-binary @- "https://127.0.0.1:$PORT$1") || true
  [[ $code == 201 || $code == 409 ]] || die "creating $1: HTTP $code: $(head -c 300 "$RUN/logs/create.out")"
}

# start_karpenter applies Karpenter's CRDs (NodePool, NodeClaim, NodeOverlay
# and the kwok provider's KWOKNodeClass), its namespace and the KWOKNodeClass
# the tests' NodePools name, then runs the controller out of cluster. Its
# instance types are the kwok provider's built-in ones (kwok/cloudprovider/
# instance_types.json: c-, m- and s- families, 1 to 256 CPUs, amd64 and arm64,
# on-demand and spot, zones test-zone-a to -d).
start_karpenter() {
  local f
  for f in "$CACHE/crds"/*.yaml "$CACHE/karpenter-kwok-crds"/*.yaml; do
    create /apis/apiextensions.k8s.io/v1/customresourcedefinitions <"$f"
  done
  wait_for "Karpenter's CRDs" 30 served /apis/karpenter.sh/v1/nodeclaims
  wait_for "the KWOKNodeClass CRD" 30 served /apis/karpenter.kwok.sh/v1alpha1/kwoknodeclasses
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$KARPENTER_NAMESPACE" | create /api/v1/namespaces
  printf 'apiVersion: karpenter.kwok.sh/v1alpha1\nkind: KWOKNodeClass\nmetadata:\n  name: %s\n' "$KARPENTER_NODECLASS" |
    create /apis/karpenter.kwok.sh/v1alpha1/kwoknodeclasses
  # Leader election off (one replica, and its Lease would need the in-cluster
  # namespace); metrics and health probes on ports of this control plane's own.
  start karpenter env KUBECONFIG="$RUN/kubeconfig" SYSTEM_NAMESPACE="$KARPENTER_NAMESPACE" DISABLE_LEADER_ELECTION=true \
    METRICS_PORT="$KARPENTER_METRICS_PORT" HEALTH_PROBE_PORT="$KARPENTER_HEALTH_PORT" LOG_LEVEL=info \
    "$BIN/karpenter-kwok"
  wait_for karpenter 60 karpenter_healthy
}

up() {
  installed || die "not installed: run '$0 install' first"
  if running; then
    say "already running"
    echo "$RUN/kubeconfig"
    return 0
  fi
  down
  local p
  for p in "$PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$KARPENTER_METRICS_PORT" "$KARPENTER_HEALTH_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "port $p is in use: another control plane? (set TIERUP_K8S_PORT)"
    fi
  done
  STARTING=1
  rm -rf "$RUN/etcd" "$RUN/logs"
  mkdir -p "$RUN/logs" "$RUN/etcd"
  certs
  kubeconfig
  : >"$RUN/pids"

  start etcd "$BIN/etcd" --data-dir "$RUN/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" --name default
  wait_for etcd 30 curl -fs "http://127.0.0.1:$ETCD_PORT/health"

  local pki="$RUN/pki"
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$PORT" \
    --endpoint-reconciler-type=none \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
    --token-auth-file "$pki/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true
  wait_for kube-apiserver 60 api_ready

  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$RUN/kubeconfig" --leader-elect=false --controllers='*' \
    --bind-address 127.0.0.1 --secure-port 0 \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --use-service-account-credentials=false
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$RUN/kubeconfig" --leader-elect=false --bind-address 127.0.0.1 --secure-port 0
  start kwok "$BIN/kwok" --kubeconfig "$RUN/kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 \
    --config "$CACHE/stages/node-initialize.yaml" --config "$CACHE/stages/node-heartbeat-with-lease.yaml" \
    --config "$CACHE/stages/pod-ready.yaml" --config "$CACHE/stages/pod-complete.yaml" \
    --config "$CACHE/stages/pod-delete.yaml"
  start_karpenter
  local f
  for f in "$CACHE/prometheus-operator-crds"/*.yaml; do
    create /apis/apiextensions.k8s.io/v1/customresourcedefinitions <"$f"
  done
  wait_for "the ServiceMonitor CRD" 30 served /apis/monitoring.coreos.com/v1/servicemonitors
  wait_for "the PrometheusRule CRD" 30 served /apis/monitoring.coreos.com/v1/prometheusrules
  sleep 1
  running || die "a component exited at start (logs: $RUN/logs)"
  STARTING=
  say "up: KUBECONFIG=$RUN/kubeconfig"
  echo "$RUN/kubeconfig"
}

case "${1:-}" in
install) install ;;
up) up ;;
down) down ;;
status)
  if running && api_ready >/dev/null 2>&1; then
    echo "running: KUBECONFIG=$RUN/kubeconfig"
    karpenter_healthy >/dev/null 2>&1 || echo "Karpenter's controller is not answering (logs: $RUN/logs/karpenter.log)"
  else
    echo "not running"
    exit 1
  fi
  ;;
env)
  echo "TIERUP_TEST_KUBECONFIG=$RUN/kubeconfig"
  echo "TIERUP_TEST_KARPENTER_CRDS=$CACHE/crds"
  echo "TIERUP_TEST_VELERO_CRDS=$CACHE/velero-crds"
  echo "TIERUP_TEST_PROMETHEUS_CRDS=$CACHE/prometheus-operator-crds"
  echo "TIERUP_TEST_K8S_BIN=$BIN"
  echo "TIERUP_TEST_KWOK_STAGES=$CACHE/stages"
  # Only when Karpenter's controller answers (a control plane started by an
  # older version of this script has none): its tests need it, and fail
  # under CI without it.
  if grep -q ' karpenter$' "$RUN/pids" 2>/dev/null && karpenter_healthy >/dev/null 2>&1; then
    echo "TIERUP_TEST_KARPENTER=1"
    echo "TIERUP_TEST_KARPENTER_NODECLASS=karpenter.kwok.sh/KWOKNodeClass/$KARPENTER_NODECLASS"
  fi
  ;;
*)
  echo "usage: $0 install|up|down|status|env" >&2
  exit 2
  ;;
esac
