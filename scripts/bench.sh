#!/usr/bin/env bash
# The benchmarks (package bench), on SQLite and PostgreSQL, as one table.
#
#   ./scripts/bench.sh                 # everything (9 to 14 minutes on 2 cores; Overload needs wrk)
#   ./scripts/bench.sh 'Engine/sqlite' # the benchmarks matching a -bench pattern
#   TIERUP_BENCH_COUNT=3 ./scripts/bench.sh  # each three times: median [lowest–highest]
#
# TIERUP_BENCH_UPGRADES (300): upgrades per engine run. TIERUP_BENCH_DURATION
# (10s): how long the API benchmark holds each rate. TIERUP_BENCH_BINARY: a
# tierup binary for the API benchmark instead of building this tree (to
# compare builds). PostgreSQL: TIERUP_TEST_POSTGRES, as scripts/test.sh;
# the benchmarks work in its server's database tierup_bench (created when
# missing) so that no other load is counted in its statistics.
# TIERUP_TEST_SKIP_POSTGRES=1 runs the SQLite half only. TIERUP_BENCH_COUNT
# (1): runs of each benchmark; with more, the table gives each metric's
# median and, in brackets, its lowest and highest (one run on two shared
# cores moves by a tenth to a fifth). The raw `go test` output is kept in
# bench.out (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }

pattern="${1:-.}"
first="${pattern%%/*}" rest="${pattern#"${pattern%%/*}"}"
upgrades="${TIERUP_BENCH_UPGRADES:-300}"
count="${TIERUP_BENCH_COUNT:-1}"
[[ "$count" =~ ^[1-9][0-9]*$ ]] || die "TIERUP_BENCH_COUNT must be a whole number of runs, 1 or more (got '$count')"
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
  go test ./bench -run '^$' -bench "^Benchmark$name\$$rest" "${skip[@]}" -benchtime "$times" -count "$count" -timeout 4h | tee -a "$out" >&2
done

# One line per benchmark: its name (less the database and the -CPUS
# suffix), the database, then each metric but ns/op as value and unit;
# over several runs the median (the lower middle for an even count) and
# [lowest–highest].
{
  printf '%-30s %-9s %s\n' BENCHMARK DATABASE METRICS
  awk '/^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
    n = split(name, part, "/"); bench = part[1]
    for (i = 3; i <= n; i++) bench = bench "/" part[i]
    key = sprintf("%-30s %-9s", bench, part[2])
    if (!(key in seen)) { seen[key] = 1; keys[++nkeys] = key }
    for (i = 3; i < NF; i += 2) {
      if ($(i+1) == "ns/op") continue
      m = key SUBSEP $(i+1)
      if (!(m in runs)) units[key] = units[key] SUBSEP $(i+1)
      vals[m, ++runs[m]] = $i
    }
  }
  END {
    for (k = 1; k <= nkeys; k++) {
      key = keys[k]; line = key
      nu = split(substr(units[key], 2), unit, SUBSEP)
      for (u = 1; u <= nu; u++) {
        m = key SUBSEP unit[u]; c = runs[m]
        # Sorted as numbers, printed as go test wrote them.
        for (i = 1; i <= c; i++) v[i] = vals[m, i]
        for (i = 2; i <= c; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
        line = line "  " v[int((c + 1) / 2)] (c > 1 ? " [" v[1] "–" v[c] "]" : "") " " unit[u]
      }
      print line
    }
  }' "$out"
}
