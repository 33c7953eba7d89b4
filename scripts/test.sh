#!/usr/bin/env bash
# The test command: every test of tierup, against SQLite and PostgreSQL.
#
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh -run Quote # extra arguments go to `go test`
#
# stripe-mock and helm are installed with `go install`; Chromium, poppler-utils (pdftotext),
# jq, curl and openssl
# with apt when missing;
# the Kubernetes test control plane is built and started by scripts/k8s-testenv.sh
# (outside CI, TIERUP_TEST_SKIP_KUBE=1 leaves the kube tests out).
# Browser screenshots land in screenshots/ (TIERUP_SCREENSHOTS to change).
# PostgreSQL: TIERUP_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test)
# must be reachable; a local Debian cluster is started when it is down. Outside
# CI, TIERUP_TEST_SKIP_POSTGRES=1 runs the SQLite half only.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed (need go $(sed -n 's/^go //p' go.mod))"

export TIERUP_TEST_POSTGRES="${TIERUP_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

pg_ready() { pg_isready -q -d "$TIERUP_TEST_POSTGRES" 2>/dev/null; }

if [[ "${TIERUP_TEST_SKIP_POSTGRES:-}" == 1 && "${CI:-}" != true ]]; then
  say "skipping PostgreSQL (TIERUP_TEST_SKIP_POSTGRES=1)"
else
  command -v pg_isready >/dev/null || die "pg_isready not found: install postgresql-client (and a server) or set TIERUP_TEST_POSTGRES"
  if ! pg_ready; then
    if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
      say "starting the local PostgreSQL cluster"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
      for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
    fi
  fi
  pg_ready || die "PostgreSQL is not reachable at $TIERUP_TEST_POSTGRES"
  export TIERUP_TEST_REQUIRE_POSTGRES=1
fi

# stripe-mock: the stripe gateway's tests run against it.
stripe_mock="$(go env GOPATH)/bin/stripe-mock"
if [[ -n "${STRIPE_MOCK_BIN:-}" ]]; then
  stripe_mock="$STRIPE_MOCK_BIN"
elif command -v stripe-mock >/dev/null; then
  stripe_mock="$(command -v stripe-mock)"
fi
if [[ ! -x "$stripe_mock" ]]; then
  say "installing stripe-mock v0.203.0"
  go install github.com/stripe/stripe-mock@v0.203.0 || die "could not install stripe-mock"
  stripe_mock="$(go env GOPATH)/bin/stripe-mock"
fi
export STRIPE_MOCK_BIN="$stripe_mock" TIERUP_TEST_REQUIRE_STRIPE_MOCK=1

# helm: the chart's tests (deploy) lint and render deploy/helm/tierup with it.
helm_bin="$(go env GOPATH)/bin/helm"
if [[ -n "${HELM_BIN:-}" ]]; then
  helm_bin="$HELM_BIN"
elif command -v helm >/dev/null; then
  helm_bin="$(command -v helm)"
fi
if [[ ! -x "$helm_bin" ]]; then
  say "installing helm v4.3.1 (cold: a few minutes)"
  go install helm.sh/helm/v4/cmd/helm@v4.3.1 || die "could not install helm"
  helm_bin="$(go env GOPATH)/bin/helm"
fi
export HELM_BIN="$helm_bin" TIERUP_TEST_REQUIRE_HELM=1

# Chromium: the dashboard's browser tests drive Debian's package headless.
if ! command -v chromium >/dev/null && [[ -z "${CHROMIUM_BIN:-}" ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing Chromium (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || die "could not install chromium"
  elif [[ "${CI:-}" == true ]]; then
    die "Chromium is missing and cannot be installed: apt-get install chromium"
  fi
fi
if command -v chromium >/dev/null || [[ -n "${CHROMIUM_BIN:-}" ]]; then
  export TIERUP_TEST_REQUIRE_BROWSER=1
fi

# pdftotext (poppler-utils): the receipt tests read the PDFs back with it.
if ! command -v pdftotext >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing poppler-utils (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null \
      || die "could not install poppler-utils"
  elif [[ "${CI:-}" == true ]]; then
    die "pdftotext is missing and cannot be installed: apt-get install poppler-utils"
  fi
fi
if command -v pdftotext >/dev/null; then
  export TIERUP_TEST_REQUIRE_PDFTOTEXT=1
fi

# jq, curl and openssl: the README's curl session runs as written (cmd/tierup/readme_test.go).
for tool in jq curl openssl; do
  command -v "$tool" >/dev/null && continue
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing $tool (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null \
      || die "could not install $tool"
  elif [[ "${CI:-}" == true ]]; then
    die "$tool is missing and cannot be installed: apt-get install $tool"
  fi
done

# Kubernetes: a real control plane (etcd, kube-apiserver, controller-manager,
# scheduler, kwok, Karpenter with its kwok cloud provider) built from the Go module proxy into ~/.cache (14-32 min the
# first time, nothing after) and started on loopback for the kube tests.
if [[ "${TIERUP_TEST_SKIP_KUBE:-}" == 1 && -z "${CI:-}" ]]; then
  say "skipping the Kubernetes control plane (TIERUP_TEST_SKIP_KUBE=1)"
else
  say "Kubernetes test control plane (scripts/k8s-testenv.sh)"
  ./scripts/k8s-testenv.sh install || die "could not build the Kubernetes test control plane"
  if ./scripts/k8s-testenv.sh status >/dev/null 2>&1; then
    say "control plane already running: using it"
  else
    ./scripts/k8s-testenv.sh up >/dev/null || die "could not start the Kubernetes test control plane"
    # Started here, stopped here; one that was already up is left running.
    trap './scripts/k8s-testenv.sh down 2>/dev/null' EXIT
  fi
  while IFS= read -r kv; do export "${kv?}"; done < <(./scripts/k8s-testenv.sh env)
  # The karpenter provisioner's tests drive Karpenter's own controller; a
  # control plane without it (started by an older k8s-testenv.sh) would
  # fail them one by one.
  [[ "${TIERUP_TEST_KARPENTER:-}" == 1 ]] ||
    die "Karpenter's controller is not running in the test control plane: scripts/k8s-testenv.sh down, then run this again"
  export TIERUP_TEST_REQUIRE_KUBE=1
fi

say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[[ -z "$unformatted" ]] || die "gofmt would change: $unformatted"

say "go vet"
go vet ./...

say "go test"
# Whole-system packages (e2e: soaks, rolling restarts, 200-upgrade fault runs)
# run past go test's 10-minute default under the race detector on 2 cores.
# e2e, the longest by far (about 11 minutes), is named first so that it
# starts first and every other package runs beside it, not after it.
# internal/testreport prints what plain `go test` would, then the slowest
# tests.
go test -count=1 -race -timeout 60m -json "$@" ./e2e ./... | go run ./internal/testreport -slowest 25

# Fuzzing: `go test` above ran every fuzz target's seeds (f.Add and the
# committed testdata/fuzz/<target>/ corpus) as regression tests; here each
# target fuzzes for a bounded number of executions, one per invocation (go
# test -fuzz takes one). A count, not a duration: with -fuzztime <d> Go
# 1.26's coordinator can end a clean run with a bare "context deadline
# exceeded" (golang/go#75804, fixed in 1.27), which a count never reaches.
# Each count takes 5–10 s on the 2-core CI machine, otherwise idle.
# A failure leaves its input in <package>/testdata/fuzz/<target>/: fix the
# bug and commit the input, which then runs with every `go test`.
# TIERUP_FUZZTIME sets one budget for all (a count like 5000x or a duration;
# outside CI 0 skips).
fuzz_targets=(
  .:FuzzCard:40000x
  .:FuzzTextProblem:80000x
  .:FuzzQuote:50000x
  .:FuzzParseCatalog:80000x
  eventstream:FuzzLastEventID:120000x
  internal/httpx:FuzzForwarded:170000x
  httpapi:FuzzAPIBodies:8000x
  web:FuzzDashboardForms:1500x
)
if [[ "${TIERUP_FUZZTIME:-}" == 0 ]]; then
  # go test reads -fuzztime 0 as "no limit", so 0 can only mean skip.
  [[ "${CI:-}" == true ]] && die "TIERUP_FUZZTIME=0 skips fuzzing, which CI refuses"
  say "skipping fuzzing (TIERUP_FUZZTIME=0)"
else
  for target in "${fuzz_targets[@]}"; do
    IFS=: read -r pkg name budget <<<"$target"
    budget="${TIERUP_FUZZTIME:-$budget}"
    corpus="$pkg/testdata/fuzz/$name"
    before="$(ls "$corpus" 2>/dev/null | sort || true)"
    fuzz() { go test -run '^$' -fuzz "^${name}\$" -fuzztime "$budget" "./$pkg"; }
    say "fuzz $name ($pkg, $budget)"
    fuzz && continue
    found="$(comm -13 <(printf '%s\n' "$before") <(ls "$corpus" 2>/dev/null | sort) | sed "s|^|$corpus/|")"
    [[ -n "$found" ]] && die "$name failed on $found: fix the bug and commit the input as a regression test"
    # No input written: with a duration budget that is the coordinator's
    # race above, so it gets one more run; with a count it is a real failure.
    if [[ "$budget" != *x ]]; then
      say "fuzz $name ended without a failing input (golang/go#75804 with a duration budget): once more"
      fuzz && continue
    fi
    die "$name failed without writing an input: see its output above"
  done
fi
