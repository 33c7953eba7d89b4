package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sandbox"
	"github.com/tierup/tierup/stack"
)

func hobby(h *harness, email string) (string, string) {
	return h.account(map[string]any{"email": email, "timezone": "Europe/Paris"})
}

func TestHappyPath(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		acct, token := hobby(h, "happy@example.com")
		quote := h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-1m"})
		h.Expect(quote, 201, "")
		pm := h.card(token, "4242 4242 4242 4242")
		r := h.Do("POST", "/v1/upgrades", token, map[string]any{"quote": quote.Str("id"), "payment_method": pm, "accept_terms": "2026-11-01"},
			"User-Agent", "tierup-e2e/1")
		h.Expect(r, 202, "")
		id := r.Str("id")
		if r.Str("status") != "processing" || r.Str("terms.version") != "2026-11-01" || r.Str("terms.user_agent") != "tierup-e2e/1" || r.Str("terms.ip") == "" {
			t.Fatalf("created: %s", r.Raw)
		}

		u := h.waitStatus(token, id, "completed")
		if u.Num("progress") != 100 || u.Str("payment.status") != "succeeded" || u.Num("payment.amount.amount") != 2900 ||
			u.Str("payment.brand") != "visa" || u.Str("payment.last4") != "4242" || u.Str("node.pool") != "dedicated" || u.Get("node.ready") != true {
			t.Errorf("completed upgrade: %s", u.Raw)
		}
		for _, s := range u.List("steps") {
			if st := apitest.Dig(s, "status"); st != "succeeded" || apitest.Dig(s, "started_at") == nil || apitest.Dig(s, "finished_at") == nil {
				t.Errorf("step %v: %v", apitest.Dig(s, "name"), s)
			}
		}
		ws := u.List("workloads")
		if len(ws) != 6 {
			t.Fatalf("%d workloads moved, want the 3 Deployments, 2 CronJobs and 1 Function", len(ws))
		}
		for _, w := range ws {
			if apitest.Dig(w, "state") != "migrated" || apitest.Dig(w, "node") != u.Str("node.name") ||
				apitest.Dig(w, "min_available").(float64) < apitest.Dig(w, "replicas").(float64) {
				t.Errorf("workload %v", w)
			}
		}

		me := h.Do("GET", "/v1/account", token, nil)
		if me.Str("subscription.plan") != "pro-1m" || me.Str("subscription.current_period_start") != quote.Str("new_period.start") ||
			me.Str("subscription.current_period_end") != quote.Str("new_period.end") {
			t.Errorf("subscription: %s", me.Raw)
		}
		if me.Get("limits.functions") != nil || me.Get("limits.cronjobs") != nil || me.Num("limits.storage_gb") != 100 ||
			!strings.Contains(me.Raw, "anomaly_detection") || !strings.Contains(me.Raw, "predictive_scaling") ||
			me.Str("entitlements.backups") != "daily" || me.Num("limits.backup_retention_days") != 7 ||
			me.Str("entitlements.uptime_sla") != "99.9" || me.Str("entitlements.support") != "priority_email" {
			t.Errorf("entitlements: %s", me.Raw)
		}

		n := h.Do("GET", "/v1/notifications", token, nil)
		if len(n.List("data")) != 1 || apitest.Dig(n.List("data")[0], "kind") != "upgrade_completed" {
			t.Errorf("notifications: %s", n.Raw)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mails, err := h.smtp.WaitFor(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		m := mails[0]
		if len(m.To) != 1 || m.To[0] != "happy@example.com" || !strings.Contains(m.Subject, "complete") ||
			!strings.Contains(m.Body, "Unlimited Functions") || !strings.Contains(m.Body, "ending in 4242") {
			t.Errorf("email: %+v", m)
		}
		if c, d, rf := h.charges(); c != 1 || d != 0 || rf != 0 {
			t.Errorf("ledger: %d charges, %d declines, %d refunds", c, d, rf)
		}
		nodes := h.Do("GET", "/v1/sandbox/cluster?account="+acct, admin, nil)
		if len(nodes.List("nodes")) != 1 {
			t.Errorf("nodes: %s", nodes.Raw)
		}

		acts := h.actions(token, id)
		if acts[0] != "created" || acts[len(acts)-1] != "completed" || count(acts, "step_succeeded") != 5 {
			t.Errorf("audit: %v", acts)
		}
		if list := h.Do("GET", "/v1/upgrades", token, nil); len(list.List("data")) != 1 {
			t.Errorf("list: %s", list.Raw)
		}
		// The slot is free again: a further upgrade is possible.
		h.Expect(h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "team-12m"}), 201, "")
		// No card number or CVC reached a log line.
		if strings.Contains(h.log.String(), "4242424242424242") || strings.Contains(h.log.String(), "4242 4242") {
			t.Error("the card number reached the log")
		}
		if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
			for _, f := range []string{path, path + "-wal"} {
				b, _ := os.ReadFile(f)
				if strings.Contains(string(b), "4242424242424242") {
					t.Errorf("the card number is in %s", filepath.Base(f))
				}
			}
		}
	})
}

func TestEventStreamResumes(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	_, token := hobby(h, "sse@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	h.waitStatus(token, id, "completed")

	read := func(lastID string) (ids []string, actions []string) {
		req, _ := http.NewRequest("GET", h.BaseURL+"/v1/upgrades/"+id+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("content type %q: %s", ct, b)
		}
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ids = append(ids, strings.TrimPrefix(line, "id: "))
			case strings.HasPrefix(line, "event: "):
				actions = append(actions, strings.TrimPrefix(line, "event: "))
			case strings.HasPrefix(line, "data: "):
				var ev map[string]any
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil || apitest.Dig(ev, "upgrade.id") != id {
					t.Fatalf("event data: %s", line)
				}
			}
			if len(actions) > 0 && actions[len(actions)-1] == "completed" {
				return
			}
		}
		return
	}
	ids, actions := read("")
	if actions[0] != "created" || actions[len(actions)-1] != "completed" {
		t.Fatalf("stream: %v", actions)
	}
	// A client that lost its connection after the third event picks up at the fourth.
	later, _ := read(ids[2])
	if len(later) != len(ids)-3 || later[0] != ids[3] {
		t.Errorf("resumed stream %v, want %v", later, ids[3:])
	}

	// Another account cannot read the stream.
	_, other := hobby(h, "other@example.com")
	h.Expect(h.Do("GET", "/v1/upgrades/"+id+"/events", other, nil), 404, "not_found")
	h.Expect(h.Do("GET", "/v1/upgrades/"+id, other, nil), 404, "not_found")
	h.Expect(h.Do("GET", "/v1/upgrades/"+id+"/audit", other, nil), 404, "not_found")
}

func TestDeclineThenCorrectedCard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		acct, token := hobby(h, "decline@example.com")
		id := h.upgrade(token, "pro-3m", h.card(token, "4000000000000002"))
		u := h.waitStatus(token, id, "payment_failed")
		if u.Str("payment.status") != "failed" || u.Str("payment.failure_code") != "card_declined" ||
			u.Str("payment.decline_code") != "generic_decline" || !strings.Contains(u.Str("payment.message"), "declined") {
			t.Fatalf("payment: %s", u.Raw)
		}
		// Nothing else changed.
		if me := h.Do("GET", "/v1/account", token, nil); me.Str("subscription.plan") != "hobby" {
			t.Errorf("plan changed after a decline: %s", me.Raw)
		}
		if nodes := h.Do("GET", "/v1/sandbox/cluster?account="+acct, admin, nil); len(nodes.List("nodes")) != 0 {
			t.Errorf("a node was made after a decline: %s", nodes.Raw)
		}
		// Another upgrade cannot start meanwhile, nor be quoted.
		h.Expect(h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-6m"}), 409, "upgrade_in_progress")

		for _, bad := range []struct{ number, code string }{{"4000000000009995", "insufficient_funds"}, {"4000000000000069", "expired_card"}, {"4000000000000127", "incorrect_cvc"}} {
			h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": h.card(token, bad.number)}), 202, "")
			u = h.waitFor(token, id, "declined again", func(r apitest.Response) bool {
				return r.Str("status") == "payment_failed" && strings.Contains(r.Raw, bad.code)
			})
		}
		good := h.card(token, "5555555555554444")
		r := h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": good})
		h.Expect(r, 202, "")
		u = h.waitStatus(token, id, "completed")
		if u.Str("payment.brand") != "mastercard" || u.Num("payment.attempt") != 5 {
			t.Errorf("payment: %s", u.Raw)
		}
		if c, d, _ := h.charges(); c != 1 || d != 4 {
			t.Errorf("ledger: %d charges, %d declines; want exactly one charge", c, d)
		}
		// Retrying the payment of a completed upgrade is refused.
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": good}), 409, "invalid_state")
	})
}

func TestCardTestingIsLimited(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	_, token := hobby(h, "tester@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4000000000000002"))
	h.waitStatus(token, id, "payment_failed")
	for i := 2; i <= 5; i++ {
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": h.card(token, "4000000000000002")}), 202, "")
		h.waitFor(token, id, "declined", func(r apitest.Response) bool {
			return r.Str("status") == "payment_failed" && r.Num("payment.attempt") == int64(i)
		})
	}
	r := h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": h.card(token, "4242424242424242")})
	h.Expect(r, 429, "too_many_payment_attempts")
}

func TestResourceShortageThenSuccess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": 2}), 201, "")
		_, token := hobby(h, "short@example.com")
		id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
		// The failure is visible while it waits for the next attempt.
		u := h.waitRetrying(token, id, "provision_node")
		if s := step(u, "provision_node"); apitest.Dig(s, "error.code") != "resource_shortage" {
			t.Errorf("provision step: %v", s)
		}
		u = h.waitStatus(token, id, "completed")
		if s := step(u, "provision_node"); s["attempts"].(float64) != 3 || s["error"] != nil {
			t.Errorf("provision step after success: %v", s)
		}
		if acts := h.actions(token, id); count(acts, "step_retry_scheduled") != 2 {
			t.Errorf("audit: %v", acts)
		}
	})
}

func TestRetriesExhaustedThenSupportRetries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": 3}), 201, "")
		_, token := hobby(h, "stuck@example.com")
		id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
		u := h.waitStatus(token, id, "needs_support")
		ticket := u.Str("support_ticket")
		if s := step(u, "provision_node"); s["status"] != "failed" || s["attempts"].(float64) != 3 || ticket == "" {
			t.Fatalf("needs support: %s", u.Raw)
		}
		tickets := h.Do("GET", "/v1/support-tickets", admin, nil)
		if len(tickets.List("data")) != 1 || apitest.Dig(tickets.List("data")[0], "id") != ticket || apitest.Dig(tickets.List("data")[0], "step") != "provision_node" {
			t.Errorf("tickets: %s", tickets.Raw)
		}
		h.Expect(h.Do("GET", "/v1/support-tickets", token, nil), 403, "forbidden")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mails, err := h.smtp.WaitFor(ctx, 1)
		if err != nil || mails[0].To[0] != "support@tierup.test" || !strings.Contains(mails[0].Subject, ticket) {
			t.Fatalf("support email: %+v %v", mails, err)
		}
		if n := h.Do("GET", "/v1/notifications", token, nil); !strings.Contains(n.Raw, ticket) {
			t.Errorf("the user was not told support is on it: %s", n.Raw)
		}

		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/retry", token, nil), 403, "forbidden")
		r := h.Do("POST", "/v1/upgrades/"+id+"/retry", admin, nil)
		h.Expect(r, 202, "")
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/retry", admin, nil), 202, "") // idempotent
		h.waitStatus(token, id, "completed")
		acts := h.actions(admin, id)
		if count(acts, "admin_retry") != 1 || count(acts, "needs_support") != 1 {
			t.Errorf("audit: %v", acts)
		}
		if c, _, _ := h.charges(); c != 1 {
			t.Errorf("%d charges", c)
		}
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/retry", admin, nil), 409, "invalid_state")
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 409, "invalid_state")
	})
}

func TestCancelRefundsAndRestores(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": 3}), 201, "")
		acct, token := h.account(map[string]any{"email": "cancel@example.com", "plan": "pro-1m",
			"current_period_start": time.Now().UTC().Add(-72 * time.Hour).Format(time.RFC3339)})
		before := h.Do("GET", "/v1/account", token, nil)
		id := h.upgrade(token, "pro-12m", h.card(token, "378282246310005"))
		h.waitStatus(token, id, "needs_support")
		if mid := h.Do("GET", "/v1/account", token, nil); mid.Str("subscription.plan") != "pro-12m" {
			t.Fatalf("plan not switched before provisioning: %s", mid.Raw)
		}
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", token, nil), 403, "forbidden")
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "") // idempotent
		u := h.waitStatus(token, id, "canceled")
		if u.Str("payment.status") != "refunded" || u.Str("payment.refund_id") == "" {
			t.Errorf("payment: %s", u.Raw)
		}
		after := h.Do("GET", "/v1/account", token, nil)
		for _, f := range []string{"subscription.plan", "subscription.current_period_start", "subscription.current_period_end"} {
			if after.Str(f) != before.Str(f) {
				t.Errorf("%s = %s, want %s restored", f, after.Str(f), before.Str(f))
			}
		}
		if c, _, rf := h.charges(); c != 1 || rf != 1 {
			t.Errorf("ledger: %d charges, %d refunds", c, rf)
		}
		if n := h.Do("GET", "/v1/notifications", token, nil); !strings.Contains(n.Raw, "upgrade_canceled") {
			t.Errorf("notifications: %s", n.Raw)
		}
		if nodes := h.Do("GET", "/v1/sandbox/cluster?account="+acct, admin, nil); len(nodes.List("nodes")) != 0 {
			t.Errorf("nodes after cancel: %s", nodes.Raw)
		}
		// The slot is free: a new upgrade can start.
		h.Expect(h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-12m"}), 201, "")
	})
}

func TestClusterCutOffMidMigrationPausesAndResumes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn, func(o *stack.Options) {
			// Each move committed alone, so that the cut comes with some moved and some not.
			o.Sim.MigrateDelay, o.Workflow.ProgressEvery = 150*time.Millisecond, time.Nanosecond
		})
		acct, token := hobby(h, "paused@example.com")
		id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
		h.waitFor(token, id, "migrating", func(r apitest.Response) bool {
			return strings.Contains(r.Raw, `"state":"migrated"`)
		})
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "cluster_unreachable", "seconds": 3600}), 201, "")
		u := h.waitStatus(token, id, "paused")
		if u.Str("current_step") != "migrate_workloads" || !strings.Contains(u.Str("paused_reason"), "cannot be reached") {
			t.Errorf("paused: %s", u.Raw)
		}
		progress := u.Num("progress")
		// The connection comes back.
		h.Expect(h.Do("DELETE", "/v1/sandbox/faults", admin, nil), 204, "")
		u = h.waitStatus(token, id, "completed")
		if u.Num("progress") < progress {
			t.Error("progress went back")
		}
		acts := h.actions(token, id)
		if count(acts, "paused") != 1 || count(acts, "resumed") != 1 {
			t.Errorf("audit: %v", acts)
		}
		if nodes := h.Do("GET", "/v1/sandbox/cluster?account="+acct, admin, nil); len(nodes.List("nodes")) != 1 {
			t.Errorf("nodes: %s", nodes.Raw)
		}
	})
}

func TestGatewayTroubleChargesOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		// The charge goes through but its answer is lost: the retry with
		// the same idempotency key gets the first result.
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "gateway_timeout", "count": 1}), 201, "")
		_, token := hobby(h, "timeout@example.com")
		id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
		u := h.waitStatus(token, id, "completed")
		if s := step(u, "payment"); s["attempts"].(float64) != 2 {
			t.Errorf("payment step: %v", s)
		}
		if c, _, _ := h.charges(); c != 1 {
			t.Errorf("%d charges after a lost answer, want 1", c)
		}

		// The gateway is unreachable: the upgrade pauses and resumes.
		_, token2 := hobby(h, "down@example.com")
		pm := h.card(token2, "4242424242424242")
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "gateway_unreachable", "seconds": 3600}), 201, "")
		// Adding a card needs the gateway too: refused with a clear 503.
		h.Expect(h.Do("POST", "/v1/payment-methods", token2, map[string]any{"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}), 503, "gateway_unavailable")
		id2 := h.upgrade(token2, "pro-1m", pm)
		h.waitStatus(token2, id2, "paused")
		h.Expect(h.Do("DELETE", "/v1/sandbox/faults", admin, nil), 204, "")
		h.waitStatus(token2, id2, "completed")
		if c, _, _ := h.charges(); c != 2 {
			t.Errorf("%d charges for two upgrades", c)
		}
	})
}

func TestConcurrentRequestsStartOneUpgrade(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		_, token := hobby(h, "race@example.com")
		quote := h.quote(token, "pro-1m")
		pm := h.card(token, "4242424242424242")
		body := map[string]any{"quote": quote, "payment_method": pm, "accept_terms": "2026-11-01"}

		var wg sync.WaitGroup
		statuses := make(chan apitest.Response, 50)
		for range 50 {
			wg.Go(func() { statuses <- h.Do("POST", "/v1/upgrades", token, body) })
		}
		wg.Wait()
		close(statuses)
		var accepted []string
		for r := range statuses {
			switch r.Status {
			case 202:
				accepted = append(accepted, r.Str("id"))
			case 409:
				if c := r.Str("code"); c != "upgrade_in_progress" && c != "quote_used" {
					t.Errorf("409 with %s", c)
				}
			default:
				t.Errorf("unexpected %d: %s", r.Status, r.Raw)
			}
		}
		if len(accepted) != 1 {
			t.Fatalf("%d upgrades started, want 1", len(accepted))
		}
		h.waitStatus(token, accepted[0], "completed")
		if c, _, _ := h.charges(); c != 1 {
			t.Errorf("%d charges, want 1", c)
		}
		if list := h.Do("GET", "/v1/upgrades", token, nil); len(list.List("data")) != 1 {
			t.Errorf("%d upgrades stored", len(list.List("data")))
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	_, token := hobby(h, "idem@example.com")
	pm := h.card(token, "4242424242424242")
	body := map[string]any{"quote": h.quote(token, "pro-1m"), "payment_method": pm, "accept_terms": "2026-11-01"}
	other := map[string]any{"quote": h.quote(token, "pro-3m"), "payment_method": pm, "accept_terms": "2026-11-01"}
	var wg sync.WaitGroup
	ids := make(chan string, 10)
	for range 10 {
		wg.Go(func() {
			r := h.Do("POST", "/v1/upgrades", token, body, "Idempotency-Key", "order-42")
			h.Expect(r, 202, "")
			ids <- r.Str("id")
		})
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		} else if id != first {
			t.Errorf("the same key gave upgrades %s and %s", first, id)
		}
	}
	h.Expect(h.Do("POST", "/v1/upgrades", token, other, "Idempotency-Key", "order-42"), 422, "idempotency_key_reused")
	h.waitStatus(token, first, "completed")
	if c, _, _ := h.charges(); c != 1 {
		t.Errorf("%d charges", c)
	}
}

func TestUpgradeRequestErrors(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	clock := h.Do("POST", "/v1/test-clocks", admin, map[string]any{"frozen_time": "2026-03-22T00:00:00Z"})
	_, token := h.account(map[string]any{"email": "errors@example.com", "plan": "pro-1m", "current_period_start": "2026-03-01T00:00:00Z", "test_clock": clock.Str("id")})
	_, stranger := hobby(h, "stranger@example.com")
	pm := h.card(token, "4242424242424242")
	strangerPM := h.card(stranger, "4242424242424242")
	quote := h.quote(token, "pro-3m")
	up := func(q, p, terms string) apitest.Response {
		return h.Do("POST", "/v1/upgrades", token, map[string]any{"quote": q, "payment_method": p, "accept_terms": terms})
	}
	h.Expect(up(quote, pm, ""), 422, "terms_not_accepted")
	h.Expect(up(quote, pm, "2020-01-01"), 422, "terms_not_accepted")
	h.Expect(up("quo_nope", pm, "2026-11-01"), 404, "not_found")
	h.Expect(up(h.quote(stranger, "pro-1m"), pm, "2026-11-01"), 404, "not_found")
	h.Expect(up(quote, strangerPM, "2026-11-01"), 422, "validation_failed")
	h.Expect(up(quote, "pm_nope", "2026-11-01"), 422, "validation_failed")
	h.Expect(h.Do("POST", "/v1/upgrades", token, map[string]any{"quote": quote}), 422, "validation_failed")
	h.Expect(h.Do("POST", "/v1/upgrades", admin, map[string]any{"quote": quote, "payment_method": pm, "accept_terms": "2026-11-01"}), 403, "forbidden")
	h.Expect(h.Do("GET", "/v1/upgrades/upg_nope", token, nil), 404, "not_found")
	// An expired quote is never charged at another price.
	h.Expect(h.Do("POST", "/v1/test-clocks/"+clock.Str("id")+"/advance", admin, map[string]any{"frozen_time": "2026-03-22T00:31:00Z"}), 200, "")
	h.Expect(up(quote, pm, "2026-11-01"), 422, "quote_expired")
	if c, _, _ := h.charges(); c != 0 {
		t.Errorf("%d charges", c)
	}
	terms := h.Do("GET", "/v1/terms", token, nil)
	if terms.Str("version") != "2026-11-01" || !strings.Contains(terms.Str("text"), "Terms of Service") {
		t.Errorf("terms: %s", terms.Raw)
	}
}

func TestCardValidation(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	_, token := hobby(h, "cards@example.com")
	r := h.Do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{"number": "4242424242424241", "exp_month": 13, "exp_year": 2020, "cvc": "12x"}})
	h.Expect(r, 422, "invalid_card")
	for _, f := range []string{"body.card.number", "body.card.exp_month", "body.card.cvc"} {
		if !strings.Contains(r.Raw, f) {
			t.Errorf("%s not named: %s", f, r.Raw)
		}
	}
	if strings.Contains(r.Raw, "4242424242424241") || strings.Contains(r.Raw, "12x") {
		t.Errorf("the card data was echoed: %s", r.Raw)
	}
	h.Expect(h.Do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123", "pin": "1"}}), 422, "validation_failed")
	ok := h.Do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{"number": "4242-4242-4242-4242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
	h.Expect(ok, 201, "")
	if ok.Str("brand") != "visa" || ok.Str("last4") != "4242" || strings.Contains(ok.Raw, "fingerprint") || strings.Contains(ok.Raw, "cvc") {
		t.Errorf("payment method: %s", ok.Raw)
	}
	if strings.Contains(h.log.String(), "4242424242424242") || strings.Contains(h.log.String(), "4242-4242") {
		t.Error("the card number reached the log")
	}
}

// TestSandboxAcceptsOnlyTestCards: like Stripe's test mode, the sandbox
// refuses a valid number that is not one of its test cards, at the number,
// and stores nothing of it; every test card it lists is accepted.
func TestSandboxAcceptsOnlyTestCards(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	_, token := hobby(h, "testcards@example.com")
	for _, number := range []string{
		"4111111111111111",    // Luhn-valid Visa, another processor's test number
		"5105 1051 0510 5100", // Luhn-valid Mastercard, typed in groups
		"4000056655665564",    // one digit off a test card, Luhn-valid again
	} {
		if !tierup.Luhn(tierup.NormalizeCardNumber(number)) {
			t.Fatalf("%s is not Luhn-valid: the test would check validation, not the sandbox", number)
		}
		r := h.Do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
		h.Expect(r, 422, "invalid_card")
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s: content type %q", number, ct)
		}
		fields := r.List("errors")
		if len(fields) != 1 || apitest.Dig(fields[0], "location") != "body.card.number" || apitest.Dig(fields[0], "message") != sandbox.TestCardsOnly {
			t.Errorf("%s: fields %v", number, fields)
		}
		if r.Str("detail") != sandbox.TestCardsOnly {
			t.Errorf("%s: detail %q", number, r.Str("detail"))
		}
		if strings.Contains(r.Raw, tierup.NormalizeCardNumber(number)) || strings.Contains(h.log.String(), tierup.NormalizeCardNumber(number)) {
			t.Errorf("%s was echoed or logged", number)
		}
	}
	// A bad number is still a validation error first: it is not a card at
	// all, so the sandbox is not the reason.
	r := h.Do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{"number": "4111111111111112", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
	h.Expect(r, 422, "invalid_card")
	if r.Str("detail") != "The card number is not valid: check the digits." {
		t.Errorf("bad Luhn: %s", r.Raw)
	}
	for _, number := range sandbox.TestCards() {
		h.card(token, number) // 201, or the test fails
	}
}

func TestCancelDuringACharge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn, func(o *stack.Options) { o.SandboxLatency = 700 * time.Millisecond })
		_, token := hobby(h, "midcharge@example.com")
		id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
		h.waitFor(token, id, "charging", func(r apitest.Response) bool { return step(r, "payment")["status"] == "running" })
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
		u := h.waitStatus(token, id, "canceled")
		// The charge that was in flight is known and refunded.
		if u.Str("payment.status") != "refunded" {
			t.Errorf("payment: %s", u.Raw)
		}
		if c, _, rf := h.charges(); c != 1 || rf != 1 {
			t.Errorf("ledger: %d charges, %d refunds", c, rf)
		}
		if me := h.Do("GET", "/v1/account", token, nil); me.Str("subscription.plan") != "hobby" {
			t.Errorf("plan: %s", me.Raw)
		}
	})
}

func TestPaymentErrorsThatMayHaveChargedGoToSupport(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	_, token := hobby(h, "processing@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4000000000000119"))
	u := h.waitStatus(token, id, "needs_support")
	if s := step(u, "payment"); s["attempts"].(float64) != 3 || apitest.Dig(s, "error.code") != "processing_error" {
		t.Errorf("payment step: %v", s)
	}
	// The user cannot pay again with a new key while the first outcome is unknown.
	h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": h.card(token, "4242424242424242")}), 409, "invalid_state")
}
