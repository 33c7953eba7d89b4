#!/usr/bin/env bash
# The benchmarks (package bench), on SQLite and PostgreSQL, as one table.
#
#   ./scripts/bench.sh                 # everything (9 to 14 minutes on 2 cores; Overload needs wrk)
#   ./scripts/bench.sh 'Engine/sqlite' # the benchmarks matching a -bench pattern
#
# TIERUP_BENCH_UPGRADES (300): upgrades per engine run. TIERUP_BENCH_DURATION
# (10s): how long the API benchmark holds each rate. TIERUP_BENCH_BINARY: a
# tierup binary for the API benchmark instead of building this tree (to
# compare builds). PostgreSQL: TIERUP_TEST_POSTGRES, as scripts/test.sh;
# the benchmarks work in its server's database tierup_bench (created when
# missing) so that no other load is counted in its statistics.
# TIERUP_TEST_SKIP_POSTGRES=1 runs the SQLite half only. The raw `go test`
# output is kept in bench.out (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }

pattern="${1:-.}"
first="${pattern%%/*}" rest="${pattern#"${pattern%%/*}"}"
upgrades="${TIERUP_BENCH_UPGRADES:-300}"
export TIERUP_TEST_POSTGRES="${TIERUP_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
skip=()
if [[ "${TIERUP_TEST_SKIP_POSTGRES:-}" == 1 ]]; then
  skip=(-skip /postgres)
else
  pg_isready -q -d "$TIERUP_TEST_POSTGRES" 2>/dev/null ||
    die "PostgreSQL is not reachable at $TIERUP_TEST_POSTGRES (TIERUP_TEST_SKIP_POSTGRES=1 runs SQLite only)"
  export TIERUP_TEST_REQUIRE_POSTGRES=1
fi

out=bench.out
: >"$out"
# Each benchmark with its -benchtime: b.N is the number of upgrades for the
# engine, of upgrades in a row for the step latency, of answers in process
# for the handler; the API ignores it.
# The overload benchmark's generator is a second process (apt-get install
# wrk): without it, a pattern that names Overload fails, and the others
# run without it, saying so.
overload=1
if [[ BenchmarkOverload =~ $first ]]; then
  if command -v wrk >/dev/null || [[ -n "${WRK_BIN:-}" ]]; then
    export TIERUP_TEST_REQUIRE_WRK=1
  elif [[ "$pattern" == *Overload* || "${CI:-}" == true ]]; then
    die "wrk is not installed (apt-get install wrk), and the pattern selects BenchmarkOverload"
  else
    printf 'bench.sh: wrk is not installed (apt-get install wrk): BenchmarkOverload is left out\n' >&2
    overload=0
  fi
fi
for spec in "Engine ${upgrades}x" "StepLatency 20x" "Handler 2s" "API 1x" "Overload 1x"; do
  read -r name times <<<"$spec"
  [[ "Benchmark$name" =~ $first ]] || continue
  [[ $name != Overload || $overload == 1 ]] || continue
  go test ./bench -run '^$' -bench "^Benchmark$name\$$rest" "${skip[@]}" -benchtime "$times" -timeout 2h | tee -a "$out" >&2
done

# One line per result: the benchmark (less the database and the -CPUS
# suffix), the database, then each metric but ns/op as value and unit.
{
  printf '%-30s %-9s %s\n' BENCHMARK DATABASE METRICS
  awk '/^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
    n = split(name, part, "/"); bench = part[1]
    for (i = 3; i <= n; i++) bench = bench "/" part[i]
    metrics = ""
    for (i = 3; i < NF; i += 2) if ($(i+1) != "ns/op") metrics = metrics sprintf("  %s %s", $i, $(i+1))
    printf "%-30s %-9s%s\n", bench, part[2], metrics
  }' "$out"
}
