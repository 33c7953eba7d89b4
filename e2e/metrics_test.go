package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/tierup/tierup/internal/dbtest"
)

// scrape is one read of /metrics: each sample's value by its name and
// labels.
type scrape map[string]*dto.MetricFamily

func (h *harness) scrape() scrape {
	h.T.Helper()
	r := h.Do("GET", "/metrics", admin, nil)
	h.Expect(r, 200, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		h.T.Fatalf("/metrics Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.Raw))
	if err != nil {
		h.T.Fatalf("parse /metrics: %v\n%s", err, r.Raw)
	}
	return fams
}

// value is the sum of the samples of name whose labels include want: a
// counter's or gauge's value, a histogram's count.
func (s scrape) value(name string, want ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	total := 0.0
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// scrapeUntil scrapes until cond holds: the workflow reports an outcome
// just after committing it, so a poll of the upgrade can see it first.
func (h *harness) scrapeUntil(what string, cond func(scrape) bool) scrape {
	h.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := h.scrape()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			h.T.Fatalf("metrics never showed %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsMoveWithAnUpgrade(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		_, token := hobby(h, "metrics@example.com")
		// Only the admin token reads the metrics.
		h.Expect(h.Do("GET", "/metrics", "", nil), 401, "unauthenticated")
		h.Expect(h.Do("GET", "/metrics", token, nil), 403, "forbidden")

		before := h.scrape()
		for _, name := range []string{"tierup_upgrades_active", "tierup_upgrades_stalled", "tierup_job_queue_depth",
			"tierup_db_connections", "tierup_db_connections_max", "tierup_event_streams_open", "tierup_http_held_total", "go_goroutines"} {
			if before[name] == nil {
				t.Errorf("no %s before any upgrade", name)
			}
		}

		// A declined card, then a good one.
		id := h.upgrade(token, "pro-1m", h.card(token, "4000000000000002"))
		h.waitStatus(token, id, "payment_failed")
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": h.card(token, "4242424242424242")}), 202, "")
		h.waitStatus(token, id, "completed")

		after := h.scrapeUntil("the upgrade completed", func(s scrape) bool {
			return s.value("tierup_upgrades_finished_total", "outcome", "completed") > before.value("tierup_upgrades_finished_total", "outcome", "completed")
		})
		moved := func(name string, want float64, labels ...string) {
			t.Helper()
			if d := after.value(name, labels...) - before.value(name, labels...); d != want {
				t.Errorf("%s%v moved by %v, want %v", name, labels, d, want)
			}
		}
		atLeast := func(name string, want float64, labels ...string) {
			t.Helper()
			if d := after.value(name, labels...) - before.value(name, labels...); d < want {
				t.Errorf("%s%v moved by %v, want at least %v", name, labels, d, want)
			}
		}
		moved("tierup_upgrades_started_total", 1)
		moved("tierup_upgrades_finished_total", 1, "outcome", "completed")
		moved("tierup_payment_attempts_total", 1, "outcome", "declined", "decline_code", "generic_decline")
		moved("tierup_payment_attempts_total", 1, "outcome", "succeeded")
		moved("tierup_step_duration_seconds", 1, "step", "payment", "outcome", "declined")
		moved("tierup_step_duration_seconds", 1, "step", "payment", "outcome", "succeeded")
		for _, step := range []string{"activate_plan", "provision_node", "enable_features", "notify"} {
			moved("tierup_step_duration_seconds", 1, "step", step, "outcome", "succeeded")
		}
		moved("tierup_step_duration_seconds", 1, "step", "migrate_workloads", "outcome", "succeeded")
		moved("tierup_needs_support_total", 0)
		atLeast("tierup_gateway_call_duration_seconds", 2, "op", "charge")
		atLeast("tierup_gateway_call_duration_seconds", 2, "op", "tokenize_card", "outcome", "ok")
		atLeast("tierup_cluster_call_duration_seconds", 6, "op", "migrate_workload", "outcome", "ok")
		atLeast("tierup_cluster_call_duration_seconds", 1, "op", "provision_node", "outcome", "ok")
		// Requests by route template, the IDs left out.
		moved("tierup_http_request_duration_seconds", 1, "method", "POST", "route", "/v1/upgrades", "status", "202")
		moved("tierup_http_request_duration_seconds", 1, "method", "POST", "route", "/v1/upgrades/{id}/payment", "status", "202")
		atLeast("tierup_http_request_duration_seconds", 2, "method", "GET", "route", "/v1/upgrades/{id}", "status", "200")
		for _, status := range []string{"401", "403"} { // the refused scrapes, before the first
			if after.value("tierup_http_request_duration_seconds", "method", "GET", "route", "/metrics", "status", status) != 1 {
				t.Errorf("the refused scrape (%s) was not counted", status)
			}
		}
		if after.value("tierup_upgrades_active", "status", "processing") != 0 {
			t.Errorf("an upgrade still active after it completed")
		}

		// An open event stream is counted until it ends.
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", h.BaseURL+"/v1/upgrades/"+id+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		h.scrapeUntil("an open stream", func(s scrape) bool { return s.value("tierup_event_streams_open") == 1 })
		cancel()
		res.Body.Close()
		h.scrapeUntil("the stream closed", func(s scrape) bool { return s.value("tierup_event_streams_open") == 0 })
	})
}

// idLike is how tierup's IDs begin.
var idLike = regexp.MustCompile(`(^|[^a-z])(acct|upg|quo|pm|tkt|ntf|ch|re|rcpt|proc|sess|tu)_[0-9A-Za-z]`)

func TestMetricsLabelsCarryNoIDs(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	_, token := hobby(h, "labels@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4000000000000002"))
	h.waitStatus(token, id, "payment_failed")
	h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": h.card(token, "4242424242424242")}), 202, "")
	h.waitStatus(token, id, "completed")
	h.Do("GET", "/v1/upgrades/"+id+"/audit", token, nil)
	h.Do("GET", "/v1/upgrades/upg_doesnotexist", token, nil)
	h.Do("GET", "/no/such/"+id, token, nil)
	s := h.scrapeUntil("the upgrade completed", func(s scrape) bool {
		return s.value("tierup_upgrades_finished_total", "outcome", "completed") == 1
	})
	values := 0
	for name, f := range s {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				values++
				if idLike.MatchString(l.GetValue()) || strings.Contains(l.GetValue(), id) {
					t.Errorf("%s{%s=%q}: a label value looks like an ID", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	if values == 0 {
		t.Fatal("no labels at all")
	}
	if s.value("tierup_http_request_duration_seconds", "route", "unmatched") == 0 &&
		s.value("tierup_http_request_duration_seconds", "route", "/") == 0 {
		t.Errorf("the unknown path was not counted under a fixed route")
	}
}
