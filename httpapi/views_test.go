package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/sim"
)

// The API's JSON is pinned here, not derived from the domain types, so
// that it cannot change when they do.
func TestViewsJSON(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	two := 2
	full := &tierup.Upgrade{ID: "upg_1", AccountID: "acct_1", QuoteID: "quo_1", FromPlan: "hobby", ToPlan: "pro-1m",
		Status: tierup.UpgradePaymentFailed, PausedReason: "gateway", CurrentStep: tierup.StepPayment, Progress: 10,
		NewPeriod: tierup.Period{Start: at, End: at.AddDate(0, 1, 0)},
		Payment: tierup.Payment{Status: tierup.PaymentFailed, Amount: tierup.Money{Amount: 2900, Currency: "USD"}, PaymentMethodID: "pm_1",
			Brand: "visa", Last4: "4242", Attempt: 1, ChargeID: "ch_1", RefundID: "re_1", DeclineCode: "generic_decline",
			FailureCode: tierup.PayCodeCardDeclined, Message: "declined"},
		Nodes: []tierup.Node{{Name: "n1", AccountID: "acct_1", Pool: "dedicated", Ready: true}, {Name: "n1-1", AccountID: "acct_1", Pool: "dedicated", Ready: true},
			{Name: "n1-2", AccountID: "acct_1", Pool: "dedicated", Ready: true}},
		Workloads: []tierup.WorkloadMigration{{Workload: tierup.Workload{Kind: "Deployment", Name: "web", Replicas: 2, Node: "n1", Nodes: []string{"n1", "n1-2"}}, State: tierup.WorkloadMigrated, MinAvailable: &two, Notes: []string{"moved"}}},
		Steps: []tierup.Step{{Name: tierup.StepPayment, Status: tierup.StepFailed, Attempts: 1, StartedAt: &at, FinishedAt: &at,
			Error: &tierup.StepError{Code: "card_declined", Message: "declined"}, NextRetryAt: &at, Worker: "w1", Run: 3}},
		Terms:         tierup.TermsAcceptance{Version: "2026-11-01", AcceptedAt: at, IP: "192.0.2.1", UserAgent: "ua"},
		SupportTicket: "tkt_1", Previous: &tierup.Subscription{PlanID: "hobby"}, CancelRequestedAt: &at, CompensateRun: 2,
		CreatedAt: at, UpdatedAt: at, CompletedAt: &at, Version: 7}
	const fullJSON = `{"id":"upg_1","account":"acct_1","quote":"quo_1","from_plan":"hobby","to_plan":"pro-1m","status":"payment_failed","paused_reason":"gateway","current_step":"payment","progress":10,"new_period":{"start":"2026-11-01T12:00:00Z","end":"2026-12-01T12:00:00Z"},"payment":{"status":"failed","amount":{"amount":2900,"currency":"USD"},"payment_method":"pm_1","brand":"visa","last4":"4242","attempt":1,"charge_id":"ch_1","refund_id":"re_1","decline_code":"generic_decline","failure_code":"card_declined","message":"declined"},"node":{"name":"n1","account":"acct_1","pool":"dedicated","ready":true},"nodes":[{"name":"n1","account":"acct_1","pool":"dedicated","ready":true},{"name":"n1-1","account":"acct_1","pool":"dedicated","ready":true},{"name":"n1-2","account":"acct_1","pool":"dedicated","ready":true}],"workloads":[{"kind":"Deployment","name":"web","replicas":2,"node":"n1","nodes":["n1","n1-2"],"state":"migrated","min_available":2,"notes":["moved"]}],"steps":[{"name":"payment","status":"failed","attempts":1,"started_at":"2026-11-01T12:00:00Z","finished_at":"2026-11-01T12:00:00Z","error":{"code":"card_declined","message":"declined"},"next_retry_at":"2026-11-01T12:00:00Z","worker":"w1"}],"terms":{"version":"2026-11-01","accepted_at":"2026-11-01T12:00:00Z","ip":"192.0.2.1","user_agent":"ua"},"support_ticket":"tkt_1","cancel_requested_at":"2026-11-01T12:00:00Z","created_at":"2026-11-01T12:00:00Z","updated_at":"2026-11-01T12:00:00Z","completed_at":"2026-11-01T12:00:00Z","version":7}`
	bare := &tierup.Upgrade{ID: "upg_2", Status: tierup.UpgradeProcessing, CreatedAt: at, UpdatedAt: at}
	const bareJSON = `{"id":"upg_2","account":"","quote":"","from_plan":"","to_plan":"","status":"processing","progress":0,"new_period":{"start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z"},"payment":{"status":"","amount":{"amount":0,"currency":""},"payment_method":"","attempt":0},"workloads":null,"steps":null,"terms":{"version":"","accepted_at":"0001-01-01T00:00:00Z","ip":"","user_agent":""},"created_at":"2026-11-01T12:00:00Z","updated_at":"2026-11-01T12:00:00Z","version":0}`

	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"full upgrade", upgradeOf(full), fullJSON},
		{"bare upgrade", upgradeOf(bare), bareJSON},
		{"empty lists stay empty", upgradeOf(&tierup.Upgrade{ID: "u", Workloads: []tierup.WorkloadMigration{}, Steps: []tierup.Step{}}).Steps, `[]`},
		{"no upgrades", upgradesOf(nil), `null`},
		{"payment awaiting authentication", upgradeOf(&tierup.Upgrade{Status: tierup.UpgradePaymentActionRequired, Payment: tierup.Payment{
			Status: tierup.PaymentRequiresAction, Amount: tierup.Money{Amount: 2900, Currency: "EUR"}, PaymentMethodID: "pm_1", Attempt: 1,
			Intent: "pi_1", NextAction: &tierup.NextAction{Type: tierup.NextActionRedirect, URL: "/sandbox/authenticate/pi_1?secret=s"}, ActionExpiresAt: &at}}).Payment,
			`{"status":"requires_action","amount":{"amount":2900,"currency":"EUR"},"payment_method":"pm_1","attempt":1,"next_action":{"type":"redirect_to_url","url":"/sandbox/authenticate/pi_1?secret=s"},"action_expires_at":"2026-11-01T12:00:00Z"}`},
		{"event", eventOf(&tierup.UpgradeEvent{Seq: 4, UpgradeID: "upg_2", Actor: "system", Action: tierup.ActionCreated, Message: "m", At: at, Upgrade: bare}),
			`{"seq":4,"upgrade_id":"upg_2","actor":"system","action":"created","message":"m","at":"2026-11-01T12:00:00Z","upgrade":` + bareJSON + `}`},
		{"event without upgrade", eventOf(&tierup.UpgradeEvent{Seq: 5, Action: tierup.ActionCompleted, At: at}),
			`{"seq":5,"upgrade_id":"","actor":"","action":"completed","message":"","at":"2026-11-01T12:00:00Z"}`},
		{"payment method", paymentMethodOf(&tierup.PaymentMethod{ID: "pm_1", AccountID: "acct_1", Brand: "visa", Last4: "4242", ExpMonth: 12,
			ExpYear: 2034, Fingerprint: "secret", GatewayRef: "pm_sb_1", Customer: "cus_sb_1", CreatedAt: at.Add(123456 * time.Microsecond)}),
			`{"id":"pm_1","brand":"visa","last4":"4242","exp_month":12,"exp_year":2034,"created_at":"2026-11-01T12:00:00Z","default":true}`},
		{"one node", upgradeOf(&tierup.Upgrade{Nodes: []tierup.Node{{Name: "n1", AccountID: "a", Pool: "dedicated", Ready: true}}}).Nodes,
			`[{"name":"n1","account":"a","pool":"dedicated","ready":true}]`},
		{"snapshot", snapshotOf(&sim.Snapshot{Workloads: []tierup.Workload{{Kind: "CronJob", Name: "c", Replicas: 1, Node: "shared"},
			{Kind: "Deployment", Name: "web", Replicas: 2, Node: "n1", Nodes: []string{"n1", "n1-1"}}},
			Nodes: []tierup.Node{{Name: "n1", AccountID: "a", Pool: "dedicated"}}, Features: "pro"}),
			`{"workloads":[{"kind":"CronJob","name":"c","replicas":1,"node":"shared"},{"kind":"Deployment","name":"web","replicas":2,"node":"n1","nodes":["n1","n1-1"]}],"nodes":[{"name":"n1","account":"a","pool":"dedicated","ready":false}],"features":"pro"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}
