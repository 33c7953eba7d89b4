package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/testbin"
)

// wrk is the closed-loop load generator of BenchmarkOverload: C and
// event-driven, so that on the benchmark's two cores it leaves the server
// the CPU that vegeta's Go client takes for itself.
var wrk = testbin.Tool{Name: "wrk", Env: "WRK_BIN", Require: "TIERUP_TEST_REQUIRE_WRK", Hint: "apt-get install wrk"}

// overloadConns are the connections each endpoint is loaded with: the
// first ones find the peak, the last is far more than the server lets in
// at once (--http-max-in-flight 64 and --http-max-queue 256).
var overloadConns = []int{16, 64, 1024}

// BenchmarkOverload loads each endpoint of BenchmarkAPI from wrk, a
// second process, with a fixed number of connections, each sending its
// next request as soon as the last is answered (closed loop; wrk does not
// wait for Retry-After). It reports the 2xx answers a second, the latency
// percentiles of every answer, the share shed (503/429), and at the last
// connection count `of-peak`: the rate served there over the best of the
// counts before it. Skipped without wrk (a failure under CI or
// TIERUP_TEST_REQUIRE_WRK). Run it with -benchtime=1x: b.N plays no part.
func BenchmarkOverload(b *testing.B) {
	bin := testbin.Find(b, wrk)
	tierup := buildTierup(b)
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			base, pid := launchTierup(b, tierup, d.fresh(b))
			tokens := loadAccounts(b, base)
			for _, e := range endpoints {
				script := wrkScript(b, e, tokens)
				var peak float64
				for i, conns := range overloadConns {
					b.Run(fmt.Sprintf("%s/conns=%d", e.name, conns), func(b *testing.B) {
						r := runWrk(b, bin, script, base+e.path, conns, attackFor(b), pid)
						if i < len(overloadConns)-1 {
							peak = max(peak, r.served)
						} else if peak > 0 {
							b.ReportMetric(r.served/peak, "of-peak")
						}
						time.Sleep(2 * time.Second) // let the server settle
					})
				}
			}
		})
	}
}

// wrkScript writes the Lua script that makes wrk send e, with the tokens
// in turn, and count its answers by status.
func wrkScript(b *testing.B, e endpoint, tokens []string) string {
	b.Helper()
	var quoted []string
	for _, t := range tokens {
		quoted = append(quoted, strconv.Quote(t))
	}
	body := "nil"
	if e.body != "" {
		body = strconv.Quote(e.body)
	}
	// shed and other are globals: done() reads them from each thread.
	src := fmt.Sprintf(`local tokens = {%s}
local method, body = %q, %s
local threads = {}
local n = 0
shed, other = 0, 0
function setup(thread) table.insert(threads, thread) end
function request()
  n = n + 1
  return wrk.format(method, nil, {["Authorization"] = "Bearer " .. tokens[n %% #tokens + 1], ["Content-Type"] = "application/json"}, body)
end
function response(status)
  if status == 503 or status == 429 then shed = shed + 1 elseif status >= 300 then other = other + 1 end
end
function done(summary, latency)
  local s, o = 0, 0
  for _, t in ipairs(threads) do s = s + t:get("shed"); o = o + t:get("other") end
  local e = summary.errors
  io.write(string.format("TIERUP requests=%%d shed=%%d other=%%d socket=%%d us=%%d p50=%%d p99=%%d\n",
    summary.requests, s, o, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
`, strings.Join(quoted, ", "), e.method, body)
	p := filepath.Join(b.TempDir(), e.name+".lua")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

// wrkResult is what one wrk run reported.
type wrkResult struct {
	served float64 // 2xx answers a second
}

// runWrk loads url from one wrk thread with conns connections for du and
// reports what came back, and the CPU time the server (process pid) spent
// on each answer.
func runWrk(b *testing.B, bin, script, url string, conns int, du time.Duration, pid int) wrkResult {
	b.Helper()
	cmd := exec.Command(bin, "-t1", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(max(1, int(du.Seconds())))+"s",
		"--timeout", "5s", "-s", script, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cpu0, cpuOK := processCPU(pid)
	b.ResetTimer()
	out, err := cmd.Output()
	b.StopTimer()
	cpu1, cpuOK1 := processCPU(pid)
	if err != nil {
		b.Fatalf("wrk: %v\n%s%s", err, out, stderr.Bytes())
	}
	f := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "TIERUP ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("wrk's summary %q: %v", rest, err)
			}
			f[k] = n
		}
	}
	n, secs := f["requests"], f["us"]/1e6
	if n == 0 || secs == 0 {
		b.Fatalf("wrk answered no request:\n%s%s", out, stderr.Bytes())
	}
	if f["other"] > 0 {
		b.Errorf("%.0f answers neither 2xx nor shed", f["other"])
	}
	r := wrkResult{served: (n - f["shed"] - f["other"]) / secs}
	b.ReportMetric(r.served, "served/s")
	b.ReportMetric(f["p50"]/1000, "p50-ms")
	b.ReportMetric(f["p99"]/1000, "p99-ms")
	b.ReportMetric(f["shed"]/n, "shed")
	b.ReportMetric(f["socket"]/n, "socket-errors")
	if cpuOK && cpuOK1 {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/n, "server-cpu-us/req")
	}
	return r
}
