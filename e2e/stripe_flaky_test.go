package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierup/tierup/gateway/stripegw"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/stripemock"
	"github.com/tierup/tierup/stack"
)

// flakyStripe stands between tierup and stripe-mock and fails a share of
// the calls the worst ways: holding them past the client's time-out, a
// 500, or forwarding them and dropping the connection before the answer.
// stripe-mock keeps no state, so the proxy also plays Stripe's idempotency
// layer (a key answers its first response again) and keeps the ledger:
// the PaymentIntents that reached Stripe, by the upgrade in their metadata.
type flakyStripe struct {
	target  *url.URL
	rate    float64
	armed   atomic.Bool
	hold    time.Duration // longer than the client's time-out
	mu      sync.Mutex
	answers map[string]answer          // by idempotency key
	charges map[string]map[string]bool // upgrade → idempotency keys of PaymentIntents created
	refunds int                        // refunds created
	faults  map[string]int
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (p *flakyStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	mode := ""
	if p.armed.Load() && rand.Float64() < p.rate {
		mode = []string{"timeout", "server_error", "dropped"}[rand.IntN(3)]
		p.mu.Lock()
		p.faults[mode]++
		p.mu.Unlock()
	}
	switch mode {
	case "timeout":
		time.Sleep(p.hold)
		w.WriteHeader(http.StatusGatewayTimeout)
		return
	case "server_error":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error": {"type": "api_error", "message": "injected"}}`)
		return
	}
	a, ok := p.replay(key)
	if !ok {
		a = p.forward(r, body)
		if key != "" && a.status < 500 {
			p.mu.Lock()
			if old, seen := p.answers[key]; seen {
				a = old // a concurrent request with the key was first
			} else {
				p.answers[key] = a
				if r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents" && a.status == 200 {
					form, _ := url.ParseQuery(string(body))
					up := form.Get("metadata[upgrade]")
					if p.charges[up] == nil {
						p.charges[up] = map[string]bool{}
					}
					p.charges[up][key] = true
				}
				if r.Method == http.MethodPost && r.URL.Path == "/v1/refunds" && a.status == 200 {
					p.refunds++
				}
			}
			p.mu.Unlock()
		}
	}
	if mode == "dropped" {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close() // carried out; the answer never arrives
			return
		}
	}
	for k, vs := range a.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

func (p *flakyStripe) replay(key string) (answer, bool) {
	if key == "" {
		return answer{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.answers[key]
	return a, ok
}

func (p *flakyStripe) forward(r *http.Request, body []byte) answer {
	rec := httptest.NewRecorder()
	proxy := httputil.NewSingleHostReverseProxy(p.target)
	r2 := r.Clone(r.Context())
	r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	proxy.ServeHTTP(rec, r2)
	return answer{status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
}

// TestStripeGatewayFlaky runs upgrades with the stripe gateway while a
// fifth of its calls to Stripe time out, answer 500 or lose their answer:
// each upgrade completes with exactly one PaymentIntent, or ends without
// any; none is refunded.
func TestStripeGatewayFlaky(t *testing.T) {
	const n = 100
	base := stripemock.Start(t, stripemock.WithFixtures(mustAbs(t, "../gateway/stripegw/testdata/stripe-mock-succeeded.json")))
	target, _ := url.Parse(base)
	proxy := &flakyStripe{target: target, rate: 0.2, hold: 600 * time.Millisecond,
		answers: map[string]answer{}, charges: map[string]map[string]bool{}, faults: map[string]int{}}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Gateway = "stripe"
		o.Stripe = stripegw.Config{SecretKey: "sk_test_e2e", APIBase: srv.URL, WebhookSecret: webhookSecret,
			HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}}
		o.Sim.Capacity = 2 * n
	})
	var ups []startedUpgrade
	var pms []string
	var tokens []string
	for i := range n {
		_, token := hobby(h, fmt.Sprintf("stripeflaky%d@example.com", i))
		pm := h.Do("POST", "/v1/payment-methods", token, map[string]any{"stripe_payment_method": "pm_card_visa"})
		h.Expect(pm, 201, "")
		tokens, pms = append(tokens, token), append(pms, pm.Str("id"))
	}
	proxy.armed.Store(true)
	for i := range n {
		ups = append(ups, startedUpgrade{tokens[i], h.upgrade(tokens[i], "pro-1m", pms[i])})
	}
	outcome := h.endings(ups)
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	count := map[string]int{}
	for _, u := range ups {
		st := outcome[u.id]
		count[st]++
		want := map[string]int{"completed": 1}[st]
		if got := len(proxy.charges[u.id]); got != want {
			t.Errorf("upgrade %s ended %s with %d PaymentIntents, want %d", u.id, st, got, want)
		}
	}
	if proxy.refunds != 0 {
		t.Errorf("%d refunds, want none", proxy.refunds)
	}
	t.Logf("outcomes: %v; faults injected: %v", count, proxy.faults)
}
