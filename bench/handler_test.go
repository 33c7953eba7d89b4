package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/stack"
)

// BenchmarkHandler serves the API benchmark's requests in process, with no
// network and no load generator, from as many goroutines as there are
// cores. cpu-us/op is the CPU time one answer costs, a measure that other
// work on the machine hardly moves (unlike ns/op and latencies).
func BenchmarkHandler(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			st, err := stack.Open(ctx, options(d.fresh(b), 0, 0))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close(ctx)
			if _, err := st.App.EnsureAdminToken(ctx); err != nil {
				b.Fatal(err)
			}
			h, err := st.Handler()
			if err != nil {
				b.Fatal(err)
			}
			var tokens []string
			for i := range apiAccounts {
				_, token, err := st.App.CreateAccount(ctx, app.NewAccount{Email: fmt.Sprintf("handler-%d@example.com", i)})
				if err != nil {
					b.Fatal(err)
				}
				tokens = append(tokens, token)
			}
			for _, e := range endpoints {
				b.Run(e.name, func(b *testing.B) {
					serveParallel(b, h, e, tokens)
				})
			}
		})
	}
}

// serveParallel sends e through h from b.RunParallel's goroutines, each
// with the tokens in turn, and fails on an answer other than 2xx.
func serveParallel(b *testing.B, h http.Handler, e endpoint, tokens []string) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op") }()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			// Not httptest.NewRequest: it parses the request through a
			// 4 KiB reader of its own, a fifth of the bytes an answer
			// allocates, which the server's pooled readers do not.
			r, err := http.NewRequestWithContext(context.Background(), e.method, e.path, strings.NewReader(e.body))
			if err != nil {
				b.Error(err)
				return
			}
			r.RemoteAddr = "192.0.2.1:1234"
			r.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code/100 != 2 {
				b.Errorf("%s %s: %d %s", e.method, e.path, w.Code, w.Body)
				return
			}
			i++
		}
	})
}
