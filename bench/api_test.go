package bench

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/proctest"
)

// apiAccounts is how many accounts the load spreads over: each request
// carries one of their tokens, round robin.
const apiAccounts = 100

// endpoint is a request the API benchmark sends, and the rates it is sent
// at: up to twice the targets, to see what happens past them.
type endpoint struct {
	name   string
	method string
	path   string
	body   string
	rates  []int
}

var endpoints = []endpoint{
	{"quotes", http.MethodPost, "/v1/quotes", `{"plan":"pro-1m"}`, []int{1000, 2000, 4000}},
	{"account", http.MethodGet, "/v1/account", "", []int{2000, 5000, 10000}},
	{"plans", http.MethodGet, "/v1/plans", "", []int{2000, 5000, 10000}},
}

// attackFor is how long each rate is held: TIERUP_BENCH_DURATION, 10s by
// default: longer than the clients' 5 s time-out, so that a server that
// lets requests queue without bound shows it.
func attackFor(b *testing.B) time.Duration {
	b.Helper()
	v := os.Getenv("TIERUP_BENCH_DURATION")
	if v == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Fatalf("TIERUP_BENCH_DURATION=%q: %v", v, err)
	}
	return d
}

// BenchmarkAPI sends each endpoint fixed-rate, open-loop load (a request
// leaves on schedule whether or not earlier ones were answered, with a 5 s
// time-out, as vegeta does) against the real binary on loopback, and
// reports the latency percentiles of every answer, the rate served (2xx
// answers a second), the ratio of errors and of shed requests (503/429),
// and the rate the generator managed to send. Run it with -benchtime=1x:
// b.N plays no part.
func BenchmarkAPI(b *testing.B) {
	bin := buildTierup(b)
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			base, pid := launchTierup(b, bin, d.fresh(b))
			var targets []vegeta.Target
			for _, token := range loadAccounts(b, base) {
				targets = append(targets, vegeta.Target{Header: http.Header{
					"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}})
			}
			for _, e := range endpoints {
				for _, rate := range e.rates {
					b.Run(fmt.Sprintf("%s/rate=%d", e.name, rate), func(b *testing.B) {
						ts := make([]vegeta.Target, len(targets))
						for i, t := range targets {
							t.Method, t.URL = e.method, base+e.path
							if e.body != "" {
								t.Body = []byte(e.body)
							}
							ts[i] = t
						}
						attack(b, ts, rate, attackFor(b), pid)
						time.Sleep(2 * time.Second) // let the server settle between rates
					})
				}
			}
		})
	}
}

// loadAccounts opens the apiAccounts accounts the load spreads over, on
// the server at base, and returns their tokens.
func loadAccounts(b *testing.B, base string) []string {
	b.Helper()
	c := apitest.Client{T: b, BaseURL: base}
	var tokens []string
	for i := range apiAccounts {
		r := c.Do("POST", "/v1/accounts", adminToken, map[string]any{"email": fmt.Sprintf("load-%d@example.com", i)})
		c.Expect(r, 201, "")
		tokens = append(tokens, r.Str("token"))
	}
	return tokens
}

// attack sends rate requests a second for du and reports what came back,
// and the CPU time the server (process pid) spent on each answer.
func attack(b *testing.B, targets []vegeta.Target, rate int, du time.Duration, pid int) {
	b.Helper()
	// A client of the attack's own, whose connections are closed after
	// it, so that one rate's leave no load on the next.
	tr := &http.Transport{MaxIdleConnsPerHost: vegeta.DefaultConnections}
	defer tr.CloseIdleConnections()
	atk := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: tr, Timeout: 5 * time.Second}), vegeta.MaxBody(0))
	var latencies []time.Duration
	var ok, shed, failed, timeouts int
	var first, lastSent, lastEnd time.Time
	cpu0, cpuOK := processCPU(pid)
	b.ResetTimer()
	for res := range atk.Attack(vegeta.NewStaticTargeter(targets...), vegeta.ConstantPacer{Freq: rate, Per: time.Second}, du, "") {
		latencies = append(latencies, res.Latency)
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if res.Timestamp.After(lastSent) {
			lastSent = res.Timestamp
		}
		if res.End().After(lastEnd) {
			lastEnd = res.End()
		}
		switch {
		case res.Code >= 200 && res.Code < 300:
			ok++
		case res.Code == http.StatusServiceUnavailable || res.Code == http.StatusTooManyRequests:
			shed++
		case res.Code == 0:
			timeouts++ // or refused: no answer within the time-out
			failed++
		default:
			failed++
		}
	}
	b.StopTimer()
	cpu1, cpuOK1 := processCPU(pid)
	n := len(latencies)
	if n == 0 {
		b.Fatal("no request was sent")
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(n-1, int(p*float64(n)))].Microseconds()) / 1000
	}
	// Served is over the whole time answers came, which outlasts the
	// sending when the server falls behind.
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(ok)/lastEnd.Sub(first).Seconds(), "served/s")
	b.ReportMetric(float64(failed)/float64(n), "errors")
	b.ReportMetric(float64(shed)/float64(n), "shed")
	if sending := lastSent.Sub(first).Seconds(); sending > 0 {
		b.ReportMetric(float64(n-1)/sending, "sent/s")
	}
	// CPU per answer hardly depends on what else runs on the machine,
	// unlike latencies: the measure to compare two builds by.
	if cpuOK && cpuOK1 {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(n), "server-cpu-us/req")
	}
	b.ReportMetric(float64(timeouts)/float64(n), "timeouts")
}

// buildTierup compiles the binary the API benchmark loads, or returns
// TIERUP_BENCH_BINARY, one built before (to compare two builds).
func buildTierup(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("TIERUP_BENCH_BINARY"); bin != "" {
		return bin
	}
	return proctest.Build(b)
}

// launchTierup serves dsn with the binary, as `tierup serve` with its
// defaults would, and returns its base URL once it listens, and its
// process ID. Its logs are written and dropped, as a production server's
// are shipped.
func launchTierup(b *testing.B, bin, dsn string) (string, int) {
	b.Helper()
	p := proctest.Start(b, proctest.Command{Bin: bin, Env: []string{"TIERUP_SECRET_KEY=" + dbtest.SecretKey},
		Args: []string{"serve", "--db", dsn, "--addr", "127.0.0.1:0", "--admin-token", adminToken,
			"--demo=false", "--log-format", "json", "--shutdown-delay", "0s"}})
	b.Cleanup(func() {
		_ = p.Signal(syscall.SIGTERM)
		<-p.Exited()
	})
	return p.Base, p.Pid()
}

// processCPU is the CPU time process pid has used, user and system, from
// /proc (Linux); false elsewhere.
func processCPU(pid int) (time.Duration, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command's name, which is in parentheses and
	// may hold spaces: utime and stime are the 12th and 13th, in clock
	// ticks (100 a second on Linux).
	_, rest, ok := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}
