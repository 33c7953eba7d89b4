package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tierup/tierup"
)

func newMetrics() *Metrics { return New(slog.New(slog.NewTextHandler(io.Discard, nil))) }

func TestLabelsAreBounded(t *testing.T) {
	m := newMetrics()
	m.PaymentAttempt("declined", "generic_decline")
	m.PaymentAttempt("declined", "some_new_code_from_the_bank")
	m.PaymentAttempt("succeeded", "")
	m.PaymentAttempt("weird", "")
	m.StepFinished("compensate", "odd", time.Millisecond)
	m.Paused("upg_123")
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"declined", "generic_decline"}, 1},
		{[]string{"declined", "other"}, 1},
		{[]string{"succeeded", "none"}, 1},
		{[]string{"other", "none"}, 1},
	} {
		if got := testutil.ToFloat64(m.payments.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("payments%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.pauses.WithLabelValues("other")); got != 1 {
		t.Errorf("an unknown pause reason: %v under other", got)
	}
	if n := testutil.CollectAndCount(m.stepDuration, "tierup_step_duration_seconds"); n != 1 {
		t.Errorf("%d step series", n)
	}
	if err := testutil.CollectAndCompare(m.pauses, strings.NewReader(`
# HELP tierup_pauses_total Upgrades that paused on an unreachable dependency, by reason code.
# TYPE tierup_pauses_total counter
tierup_pauses_total{reason="other"} 1
`)); err != nil {
		t.Error(err)
	}
}

// TestHTTPByRouteTemplate: the route is the matched pattern, an event
// stream is open while its handler runs, and the Flusher is reachable.
func TestHTTPByRouteTemplate(t *testing.T) {
	m := newMetrics()
	inStream := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/upgrades/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("GET /v1/upgrades/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		close(inStream)
		<-release
	})
	h := m.HTTP(mux)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/upgrades/upg_42", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/nothing/acct_9", nil))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/upgrades/upg_42/events", nil))
	}()
	<-inStream
	if got := testutil.ToFloat64(m.streamsOpen); got != 1 {
		t.Errorf("%v streams open, want 1", got)
	}
	close(release)
	<-done
	if got := testutil.ToFloat64(m.streamsOpen); got != 0 {
		t.Errorf("%v streams open after it ended, want 0", got)
	}
	var out strings.Builder
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out.WriteString(rec.Body.String())
	for _, want := range []string{
		`tierup_http_request_duration_seconds_count{method="GET",route="/v1/upgrades/{id}",status="418"} 1`,
		`tierup_http_request_duration_seconds_count{method="GET",route="/v1/upgrades/{id}/events",status="200"} 1`,
		`tierup_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %s in\n%s", want, grep(out.String(), "tierup_http_request_duration_seconds_count"))
		}
	}
	if strings.Contains(out.String(), "upg_42") || strings.Contains(out.String(), "acct_9") {
		t.Error("a raw path with an ID became a label")
	}
}

func grep(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

type describer struct{ tierup.PaymentGateway }

func (describer) DescribeCard(context.Context, string) (*tierup.PaymentMethod, error) {
	return &tierup.PaymentMethod{}, nil
}

type plainGateway struct{ tierup.PaymentGateway }

// TestDecoratorsKeepOptionalInterfaces: a caller's check for
// tierup.CardDescriber tells the same through the decorator.
func TestDecoratorsKeepOptionalInterfaces(t *testing.T) {
	m := newMetrics()
	if _, ok := m.Gateway(describer{}).(tierup.CardDescriber); !ok {
		t.Error("a describing gateway lost DescribeCard")
	}
	if _, ok := m.Gateway(plainGateway{}).(tierup.CardDescriber); ok {
		t.Error("a plain gateway gained DescribeCard")
	}
	g := m.Gateway(describer{}).(tierup.CardDescriber)
	if _, err := g.DescribeCard(context.Background(), "pm_x"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.gatewayDuration); n != 1 {
		t.Errorf("%d gateway series, want describe_card's", n)
	}
}
