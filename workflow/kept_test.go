package workflow

import (
	"strings"
	"testing"
)

// TestKeptRecords: the quote and the card Create was handed are what the
// payment, the activation and the receipt use, read from the store not at
// all in this process and once each in another one; the completion email
// names the receipt the payment recorded on the upgrade, without reading
// the upgrade's receipts.
func TestKeptRecords(t *testing.T) {
	tests := []struct {
		name      string
		elsewhere bool // the steps run in another process than Create
		reads     int64
	}{
		{name: "the process that created it", reads: 0},
		{name: "another process", elsewhere: true, reads: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.create(t)
			if tt.elsewhere {
				e, err := New(r.e.Deps, r.e.cfg)
				if err != nil {
					t.Fatal(err)
				}
				r.e = e
			}
			r.drain(t, 50)
			if got := r.store.reads.Load(); got != tt.reads {
				t.Errorf("%d reads of the quote and the card, want %d", got, tt.reads)
			}
			u := r.upgrade(t)
			if u.Payment.ChargeID == "" || len(r.gateway.charges) != 1 || u.Payment.Receipt == nil {
				t.Fatalf("payment %+v, charges %v", u.Payment, r.gateway.charges)
			}
			if n := len(r.mailer.sent); n != 1 || !strings.Contains(r.mailer.sent[0].Text, "Your receipt "+u.Payment.Receipt.Number+": ") ||
				!strings.Contains(r.mailer.sent[0].Text, u.Payment.Receipt.ID) || len(r.store.st.receipts) != 1 || r.store.st.receipts[0].ID != u.Payment.Receipt.ID {
				t.Errorf("emails %+v; receipts %+v, the payment's %+v", r.mailer.sent, r.store.st.receipts, u.Payment.Receipt)
			}
		})
	}
}
