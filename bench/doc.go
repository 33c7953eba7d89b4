// Package bench holds tierup's benchmarks, which state its speed (no test
// asserts a wall-clock time):
//
//   - BenchmarkEngine: upgrades per second and database transactions per
//     upgrade, Hobby → Pro with the simulated cluster and the sandbox
//     gateway at zero delay, each account one upgrade, on SQLite and
//     PostgreSQL, with 1, 10 and 50 workers (in process, wired by package
//     stack as the binary is);
//   - BenchmarkStepLatency: the time from one step's end to the next
//     step's start when the queue is idle;
//   - BenchmarkAPI: latency percentiles, served throughput and error ratio
//     of POST /v1/quotes, GET /v1/account and GET /v1/plans under
//     fixed-rate (open-loop) load against the real binary on loopback.
//
// scripts/bench.sh runs them and prints one table; the README's
// Performance section has the figures.
package bench
