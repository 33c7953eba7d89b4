package workflow

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tierup/tierup"
)

func receiptRig(t *testing.T) *rig {
	r := newRig(t)
	r.e.cfg.Receipts = tierup.ReceiptConfig{Seller: tierup.Seller{Name: "Zoë Müller GmbH", Address: "Hauptstraße 1, Berlin", TaxID: "DE123456789"},
		TaxRate: 2000, BaseURL: "https://billing.example.com"}.WithDefaults()
	return r
}

// TestReceiptsFollowThePayments runs an upgrade, then cancels another:
// each charge has its receipt, the refund its credit note, numbered in
// one series, and the completion email links the receipt.
func TestReceiptsFollowThePayments(t *testing.T) {
	r := receiptRig(t)
	r.create(t)
	r.drain(t, 50)
	if len(r.store.st.receipts) != 1 {
		t.Fatalf("%d receipts after one charge", len(r.store.st.receipts))
	}
	rc := r.store.st.receipts[0]
	usd := func(n int64) tierup.Money { return tierup.Money{Amount: n, Currency: "USD"} }
	if rc.Number != "TU-2026-000001" || rc.Kind != tierup.KindReceipt || rc.PaymentRef != "ch_upg_1:payment:1" || rc.Total != usd(2900) ||
		rc.Tax != usd(483) || rc.Subtotal != usd(2417) || rc.TaxRate != "20%" || rc.Card != (tierup.CardRef{Brand: "visa", Last4: "4242"}) ||
		rc.Seller.TaxID != "DE123456789" || rc.Buyer.Email != "dev@example.com" || rc.IssuedDate != "22 March 2026" ||
		!strings.HasPrefix(rc.Adjustment, "None: no time was left on Hobby") {
		t.Errorf("receipt %+v", rc)
	}
	var mail string
	for _, m := range r.mailer.sent {
		mail += m.Text
	}
	if link := "Your receipt TU-2026-000001: https://billing.example.com/receipts/" + rc.ID + ".pdf"; !strings.Contains(mail, link) {
		t.Errorf("completion email without %q:\n%s", link, mail)
	}

	// Another upgrade, canceled while its features are turned on.
	r = receiptRig(t)
	r.create(t)
	for r.upgrade(t).CurrentStep != tierup.StepEnableFeatures {
		r.runOne(t)
	}
	// The seller moves before the refund: the receipt keeps what it said.
	r.e.cfg.Receipts.Seller = tierup.Seller{Name: "Zoë Müller SE", Address: "Neuer Weg 2, Hamburg"}
	if _, err := r.e.Cancel(context.Background(), "upg_1", "admin"); err != nil {
		t.Fatal(err)
	}
	r.drain(t, 30)
	rc = r.store.st.receipts[0]
	if len(r.store.st.receipts) != 2 {
		t.Fatalf("%d documents after the refund", len(r.store.st.receipts))
	}
	cn := r.store.st.receipts[1]
	if cn.Number != "TU-2026-000002" || cn.Kind != tierup.KindCreditNote || cn.Credits == nil || cn.Credits.Number != rc.Number ||
		cn.Total != rc.Total || cn.Tax != rc.Tax || cn.PaymentRef != r.upgrade(t).Payment.RefundID {
		t.Errorf("credit note %+v", cn)
	}
	if rc.Seller.Name != "Zoë Müller GmbH" || cn.Seller.Name != "Zoë Müller SE" {
		t.Errorf("sellers: receipt %q, credit note %q; the receipt is a snapshot, the credit note says who refunds", rc.Seller.Name, cn.Seller.Name)
	}
}

// TestReceiptNumberRollsBack: a commit that fails after the receipt was
// numbered leaves no receipt and no used number; the repeat gets it.
func TestReceiptNumberRollsBack(t *testing.T) {
	r := receiptRig(t)
	u := claimed(t, r, nil)
	charged := result{msg: "charged", apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error { return u.PaymentCharged("ch_1") }}
	commit := func(fail error) error {
		return r.store.InTx(context.Background(), func(tx tierup.Store) error {
			fresh, err := tx.Upgrade(context.Background(), u.ID)
			if err != nil {
				return err
			}
			if _, err := r.e.finish(context.Background(), tx, fresh, tierup.StepPayment, r.e.withReceipt(charged), &observed{}); err != nil {
				return err
			}
			return fail
		})
	}
	crash := errors.New("the process died before the commit")
	if err := commit(crash); !errors.Is(err, crash) {
		t.Fatal(err)
	}
	if len(r.store.st.receipts) != 0 || r.store.st.counters["TU-2026"] != 0 {
		t.Fatalf("a rolled-back commit left %d receipts, counter %d", len(r.store.st.receipts), r.store.st.counters["TU-2026"])
	}
	if err := commit(nil); err != nil {
		t.Fatal(err)
	}
	if len(r.store.st.receipts) != 1 || r.store.st.receipts[0].Number != "TU-2026-000001" {
		t.Errorf("receipts after the repeat: %+v", r.store.st.receipts)
	}
}

// TestNoReceiptWithoutACharge: a payment with nothing due and a declined
// one issue nothing.
func TestNoReceiptWithoutACharge(t *testing.T) {
	r := receiptRig(t)
	r.gateway.chargeErrs = []error{&tierup.PaymentError{Code: "card_declined", DeclineCode: "generic_decline", Message: "declined"}}
	r.create(t)
	r.drain(t, 10)
	if u := r.upgrade(t); u.Status != tierup.UpgradePaymentFailed || len(r.store.st.receipts) != 0 {
		t.Errorf("upgrade %s with %d receipts", u.Status, len(r.store.st.receipts))
	}
}
