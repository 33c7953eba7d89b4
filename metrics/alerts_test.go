package metrics_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
	"sigs.k8s.io/yaml"
)

// exposed returns the names of every sample the wired service's registry
// exposes once each instrument has seen one observation: a histogram's
// _bucket, _count and _sum as well as its own name.
func exposed(t *testing.T) map[string]bool {
	t.Helper()
	ctx := context.Background()
	st, err := stack.Open(ctx, stack.Options{DB: dbtest.SQLite(t), App: app.Config{Sandbox: true, AdminToken: "tu_admin_metrics"},
		SecretKey: dbtest.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(ctx) })
	m := st.Metrics
	m.UpgradeStarted()
	m.UpgradeFinished("completed")
	m.StepFinished(tierup.StepPayment, "succeeded", time.Millisecond)
	m.PaymentAttempt("declined", "generic_decline")
	m.Paused(string(tierup.CodeClusterUnreachable))
	m.NeedsSupport(tierup.StepMigrateWorkloads)
	m.GatewayCall("charge", "ok", time.Millisecond)
	m.ClusterCall("preflight", "error", time.Millisecond)
	h, err := st.Handler()
	if err != nil {
		t.Fatal(err)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/plans", nil))
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	names := map[string]bool{}
	for _, f := range families {
		n := f.GetName()
		names[n] = true
		if f.GetType().String() == "HISTOGRAM" {
			names[n+"_bucket"], names[n+"_count"], names[n+"_sum"] = true, true, true
		}
	}
	return names
}

var metricName = regexp.MustCompile(`\btierup_[a-z_]+\b`)

// named lists the tierup metrics an expression reads.
func named(expr string) []string { return metricName.FindAllString(expr, -1) }

func TestAlertRulesNameExposedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(raw, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	names := exposed(t)
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if len(named(r.Expr)) == 0 {
				t.Errorf("%s: the expression names no tierup metric: %s", r.Alert, r.Expr)
			}
			for _, n := range named(r.Expr) {
				if !names[n] {
					t.Errorf("%s names %s, which the registry does not expose", r.Alert, n)
				}
			}
		}
	}
	for _, want := range []string{"TierupUpgradeStuck", "TierupUpgradeNeedsSupport", "TierupPaymentFailureRatioHigh"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
	if t.Failed() {
		exposedNames := make([]string, 0, len(names))
		for n := range names {
			if strings.HasPrefix(n, "tierup_") {
				exposedNames = append(exposedNames, n)
			}
		}
		sort.Strings(exposedNames)
		t.Logf("exposed: %s", strings.Join(exposedNames, " "))
	}
}

func TestDashboardNamesExposedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/tierup.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	if len(dash.Panels) == 0 {
		t.Fatal("no panels")
	}
	names := exposed(t)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range named(tg.Expr) {
				if !names[n] {
					t.Errorf("panel %q names %s, which the registry does not expose", p.Title, n)
				}
			}
		}
	}
}
