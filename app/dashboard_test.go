package app

import (
	"testing"
	"time"

	"github.com/tierup/tierup"
)

// TestMoveTimes: each workload's move starts at the audit entry before the
// first one showing it moved, and ends there; the one moving now started
// at the last entry.
func TestMoveTimes(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 3, 1, 12, 0, s, 0, time.UTC) }
	snap := func(states ...tierup.WorkloadState) *tierup.Upgrade {
		u := &tierup.Upgrade{}
		for _, s := range states {
			u.Workloads = append(u.Workloads, tierup.WorkloadMigration{State: s})
		}
		return u
	}
	p, m := tierup.WorkloadPending, tierup.WorkloadMigrated
	evs := []*tierup.UpgradeEvent{
		{At: at(0), Upgrade: snap()},        // the step starts
		{At: at(1), Upgrade: snap(p, p, p)}, // the workloads listed
		{At: at(4), Upgrade: snap(m, p, p)},
		{At: at(5)}, // a gateway's entry without a snapshot
		{At: at(9), Upgrade: snap(m, m, p)},
	}
	since, moved := moveTimes(evs, 3)
	for _, tc := range []struct {
		i           int
		since, done time.Time
		took        string
	}{
		{0, at(1), at(4), "3 seconds"},
		{1, at(4), at(9), "5 seconds"},
		{2, at(9), time.Time{}, ""},
	} {
		if !since[tc.i].Equal(tc.since) || !moved[tc.i].Equal(tc.done) {
			t.Errorf("workload %d: since %v moved %v, want %v and %v", tc.i, since[tc.i], moved[tc.i], tc.since, tc.done)
		}
		if _, ok := moved[tc.i]; ok {
			if got := tookWords(since[tc.i], moved[tc.i]); got != tc.took {
				t.Errorf("workload %d took %q, want %q", tc.i, got, tc.took)
			}
		}
	}
	if got := tookWords(at(3), at(3).Add(400*time.Millisecond)); got != "under a second" {
		t.Errorf("a quick step took %q", got)
	}
}

// TestNodeNumbers: a workload's nodes by their number among the upgrade's.
func TestNodeNumbers(t *testing.T) {
	nodes := []tierup.Node{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"b"}, "node 2"},
		{[]string{"a", "c"}, "nodes 1 and 3"},
		{[]string{"c", "a", "b"}, "nodes 1, 2 and 3"},
		{nil, ""},
	} {
		if got := nodeNumbers(nodes, tc.names); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.names, got, tc.want)
		}
	}
}

// TestWordsForMoneyAndStatus: whether the customer paid, and the billing
// history's status, for each state an upgrade ends or waits in.
func TestWordsForMoneyAndStatus(t *testing.T) {
	pay := func(up tierup.UpgradeStatus, ps tierup.PaymentStatus) *tierup.Upgrade {
		return &tierup.Upgrade{Status: up, Payment: tierup.Payment{Status: ps, Amount: tierup.Money{Amount: 8100, Currency: "USD"}}}
	}
	for _, tc := range []struct {
		u             *tierup.Upgrade
		money, status string
	}{
		{pay(tierup.UpgradeProcessing, tierup.PaymentSucceeded),
			"You have been charged $81.00 on Visa •••• 4242. If the upgrade cannot be completed, it is canceled and the whole amount refunded to that card.", "in progress"},
		{pay(tierup.UpgradeCompleted, tierup.PaymentSucceeded), "You paid $81.00 with Visa •••• 4242.", "paid"},
		{pay(tierup.UpgradeCanceled, tierup.PaymentRefunded), "The $81.00 you paid has been refunded to Visa •••• 4242.", "refunded"},
		{pay(tierup.UpgradePaymentFailed, tierup.PaymentFailed), "You have not been charged.", "payment failed"},
		{pay(tierup.UpgradePaymentActionRequired, tierup.PaymentRequiresAction),
			"You have not been charged yet: your bank asks you to confirm the payment first.", "awaiting your bank"},
		{pay(tierup.UpgradeNeedsSupport, tierup.PaymentSucceeded),
			"You have been charged $81.00 on Visa •••• 4242. If the upgrade cannot be completed, it is canceled and the whole amount refunded to that card.", "with support"},
		{pay(tierup.UpgradeCompleted, tierup.PaymentSkipped), "Nothing was due: you have not been charged.", "nothing due"},
		{pay(tierup.UpgradeProcessing, tierup.PaymentPending), "You are charged once, when the payment goes through; if it does not, you are not charged.", "in progress"},
		{pay(tierup.UpgradeCanceled, tierup.PaymentPending), "You have not been charged.", "canceled"},
	} {
		if got := moneyWords(tc.u, "Visa •••• 4242"); got != tc.money {
			t.Errorf("%s/%s: %q, want %q", tc.u.Status, tc.u.Payment.Status, got, tc.money)
		}
		if got := billingStatus(tc.u); got != tc.status {
			t.Errorf("%s/%s: status %q, want %q", tc.u.Status, tc.u.Payment.Status, got, tc.status)
		}
	}
}
