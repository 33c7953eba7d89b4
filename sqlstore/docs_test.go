package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

// fullUpgrade has every field set, the API-hidden ones included.
func fullUpgrade() *tierup.Upgrade {
	at := time.Date(2026, 3, 1, 12, 30, 15, 123456000, time.UTC)
	ptr := func(t time.Time) *time.Time { return &t }
	two := 2
	return &tierup.Upgrade{
		ID: "upg_1", AccountID: "acct_1", QuoteID: "quo_1", FromPlan: "pro-1m", ToPlan: "pro-12m",
		Status: tierup.UpgradePaused, PausedReason: "cluster unreachable", CurrentStep: tierup.StepMigrateWorkloads, Progress: 55,
		NewPeriod: tierup.Period{Start: at, End: at.AddDate(1, 0, 0)},
		Payment: tierup.Payment{Status: tierup.PaymentSucceeded, Amount: tierup.Money{Amount: 29900, Currency: "USD"},
			PaymentMethodID: "pm_1", Brand: "visa", Last4: "4242", Attempt: 2, ChargeID: "ch_1", RefundID: "re_1",
			DeclineCode: "insufficient_funds", FailureCode: "card_declined", Message: "declined once",
			Intent: "pi_1", NextAction: &tierup.NextAction{Type: tierup.NextActionStripeSDK, URL: "https://bank.example/3ds", ClientSecret: "pi_1_secret"},
			ActionExpiresAt: ptr(at.Add(30 * time.Minute)), Receipt: &tierup.ReceiptRef{ID: "rcpt_1", Number: "TU-2026-000001"}},
		Nodes: []tierup.Node{{Name: "node-1", AccountID: "acct_1", Pool: "dedicated", Ready: true},
			{Name: "node-1-1", AccountID: "acct_1", Pool: "dedicated", Ready: true}, {Name: "node-1-2", AccountID: "acct_1", Pool: "dedicated", Ready: true}},
		Workloads: []tierup.WorkloadMigration{{Workload: tierup.Workload{Kind: "Deployment", Name: "web", Replicas: 3, Node: "node-1",
			Nodes: []string{"node-1", "node-1-1", "node-1-2"}},
			State: tierup.WorkloadMigrated, MinAvailable: &two, Notes: []string{"moved", "pdb respected"}}},
		Steps: []tierup.Step{{Name: tierup.StepMigrateWorkloads, Status: tierup.StepRetrying, Attempts: 3,
			StartedAt: ptr(at), FinishedAt: ptr(at.Add(time.Second)), Error: &tierup.StepError{Code: "resource_shortage", Message: "no capacity"},
			NextRetryAt: ptr(at.Add(time.Minute)), Worker: "host-1:42", Run: 4}},
		Terms:         tierup.TermsAcceptance{Version: "2026-01", AcceptedAt: at, IP: "192.0.2.1", UserAgent: "test"},
		SupportTicket: "tkt_1", Zone: "zone-a",
		Previous: &tierup.Subscription{PlanID: "pro-1m", PeriodStart: at.AddDate(0, -1, 0), PeriodEnd: at.AddDate(0, 0, 3),
			Value: tierup.Money{Amount: 2900, Currency: "USD"}},
		CancelRequestedAt: ptr(at.Add(2 * time.Minute)), CompensateRun: 5,
		CreatedAt: at.Add(-time.Hour), UpdatedAt: at.Add(3 * time.Minute), CompletedAt: ptr(at.Add(time.Hour)), Version: 7,
	}
}

// requireAllSet fails for every zero field (recursively), so that a field
// added to the domain types fails the round trip until the document has it.
func requireAllSet(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is not set", path)
			return
		}
		requireAllSet(t, path, v.Elem())
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
		}
		for i := range v.Len() {
			requireAllSet(t, path+"[i]", v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if v.Interface().(time.Time).IsZero() {
				t.Errorf("%s is not set", path)
			}
			return
		}
		for i := range v.NumField() {
			requireAllSet(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is not set", path)
		}
	}
}

func TestUpgradeDocRoundTrip(t *testing.T) {
	want := fullUpgrade()
	requireAllSet(t, "Upgrade", reflect.ValueOf(want))
	state, err := encodeUpgrade(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeUpgrade(state)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	state, _ = encodeUpgrade(&tierup.Upgrade{Workloads: []tierup.WorkloadMigration{}})
	if got, err := decodeUpgrade(state); err != nil || got.Workloads == nil || got.Steps != nil {
		t.Errorf("empty and nil slices are not kept apart: %+v %v", got, err)
	}
}

// storedV0 is a document as the store wrote it before documents had a shape
// of their own (version 0: the API's JSON beside what the API hides).
const storedV0 = `{"upgrade": {"id": "upg_1", "account": "acct_1", "quote": "quo_1", "from_plan": "pro-1m", "to_plan": "pro-12m",
	"status": "paused", "paused_reason": "cluster unreachable", "current_step": "migrate_workloads", "progress": 55,
	"new_period": {"start": "2026-03-01T12:30:15.123456Z", "end": "2027-03-01T12:30:15.123456Z"},
	"payment": {"status": "succeeded", "amount": {"amount": 29900, "currency": "USD"}, "payment_method": "pm_1", "brand": "visa",
		"last4": "4242", "attempt": 2, "charge_id": "ch_1", "refund_id": "re_1", "decline_code": "insufficient_funds",
		"failure_code": "card_declined", "message": "declined once"},
	"node": {"name": "node-1", "account": "acct_1", "pool": "dedicated", "ready": true},
	"workloads": [{"kind": "Deployment", "name": "web", "replicas": 3, "node": "node-1", "state": "migrated", "min_available": 2,
		"notes": ["moved", "pdb respected"]}],
	"steps": [{"name": "migrate_workloads", "status": "retrying", "attempts": 3, "started_at": "2026-03-01T12:30:15.123456Z",
		"finished_at": "2026-03-01T12:30:16.123456Z", "error": {"code": "resource_shortage", "message": "no capacity"},
		"next_retry_at": "2026-03-01T12:31:15.123456Z", "worker": "host-1:42"}],
	"terms": {"version": "2026-01", "accepted_at": "2026-03-01T12:30:15.123456Z", "ip": "192.0.2.1", "user_agent": "test"},
	"support_ticket": "tkt_1", "cancel_requested_at": "2026-03-01T12:32:15.123456Z", "created_at": "2026-03-01T11:30:15.123456Z",
	"updated_at": "2026-03-01T12:33:15.123456Z", "completed_at": "2026-03-01T13:30:15.123456Z", "version": 7},
"previous": {"PlanID": "pro-1m", "PeriodStart": "2026-02-01T12:30:15.123456Z", "PeriodEnd": "2026-03-04T12:30:15.123456Z"},
"runs": {"migrate_workloads": 4}, "compensate_run": 5}`

func TestDecodeV0(t *testing.T) {
	got, err := decodeUpgrade(storedV0)
	if err != nil {
		t.Fatal(err)
	}
	want := fullUpgrade()
	// 3-D Secure and the period's value came after version 0.
	want.Payment.Intent, want.Payment.NextAction, want.Payment.ActionExpiresAt = "", nil, nil
	want.Previous.Value = tierup.Money{}
	want.Zone = ""             // so did the pre-flight's zone
	want.Payment.Receipt = nil // and the receipt recorded on the payment
	// And several dedicated nodes: the one node is the first.
	want.Nodes = want.Nodes[:1]
	want.Workloads[0].Nodes = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("v0:\n got %+v\nwant %+v", got, want)
	}
	// Written again, it is a version 1 document.
	state, _ := encodeUpgrade(got)
	var v struct{ V int }
	if err := json.Unmarshal([]byte(state), &v); err != nil || v.V != 1 {
		t.Errorf("re-encoded: v = %d, %v", v.V, err)
	}
}

// A version 1 document written when an upgrade had one node carries it as
// "node" alone; it decodes into Nodes. Newer documents keep "node" (the
// first) for the readers of that time.
func TestDecodeSingleNode(t *testing.T) {
	state, err := encodeUpgrade(fullUpgrade())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(state), &doc); err != nil {
		t.Fatal(err)
	}
	if n, _ := doc["node"].(map[string]any); n["name"] != "node-1" {
		t.Errorf("node is not the first of nodes: %v", doc["node"])
	}
	delete(doc, "nodes")
	for _, w := range doc["workloads"].([]any) {
		delete(w.(map[string]any), "nodes")
	}
	old, _ := json.Marshal(doc)
	got, err := decodeUpgrade(string(old))
	if err != nil {
		t.Fatal(err)
	}
	want := fullUpgrade()
	want.Nodes = want.Nodes[:1]
	want.Workloads[0].Nodes = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("single node:\n got %+v\nwant %+v", got.Nodes, want.Nodes)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, state := range []string{`{"v": 2}`, `{}`, `not json`} {
		if _, err := decodeUpgrade(state); err == nil {
			t.Errorf("%s decoded", state)
		}
	}
}
