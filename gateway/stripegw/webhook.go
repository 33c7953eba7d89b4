package stripegw

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v84/webhook"
	"github.com/tierup/tierup"
)

// WebhookTolerance is how far a webhook's signed timestamp may be from
// now. It bounds replays of captured requests; Stripe's libraries default
// to the same 5 minutes.
const WebhookTolerance = 5 * time.Minute

// Webhook errors. Answer all of them with HTTP 400: Stripe retries
// deliveries that fail, and a request that fails here is not from Stripe
// or was changed on the way.
var (
	// ErrBadSignature: the Stripe-Signature header is missing, malformed
	// or matches no signature of the payload under the secret.
	ErrBadSignature = errors.New("stripegw: webhook signature is missing or invalid")
	// ErrSignatureExpired: the signature is valid but its timestamp is
	// outside WebhookTolerance, so the request may be a replay.
	// errors.Is(err, ErrBadSignature) holds for it too.
	ErrSignatureExpired = fmt.Errorf("%w: timestamp outside the %v tolerance", ErrBadSignature, WebhookTolerance)
	// ErrNoWebhookSecret: the Gateway was built without a WebhookSecret.
	ErrNoWebhookSecret = errors.New("stripegw: no webhook secret configured")
)

// Event is what tierup needs from a Stripe webhook event. PaymentIntentID
// is the pi_… ID (the Charge.ID returned by Charge) for payment_intent.*
// and charge.refunded events; Status is the PaymentIntent's status for
// payment_intent.* events, and "refunded" or "partially_refunded" for
// charge.refunded; Metadata is the PaymentIntent's metadata.
type Event = tierup.GatewayEvent

// ParseWebhook verifies payload against the Stripe-Signature header value
// and extracts the event. now is the current time, passed in so tests can
// check the tolerance; production code passes time.Now().
//
// stripe-go's webhook package checks the timestamp against the wall clock,
// so the documented v1 scheme is implemented here: HMAC-SHA256 of
// "<t>.<payload>" under the secret (computed by webhook.ComputeSignature),
// compared in constant time with every v1 signature in the header (there
// are several while a secret is being rolled), then the timestamp checked.
// Events of other types parse without error, with ID and Type only, so
// the handler can acknowledge them.
func (g *Gateway) ParseWebhook(payload []byte, signatureHeader string, now time.Time) (Event, error) {
	if g.webhookSecret == "" {
		return Event{}, ErrNoWebhookSecret
	}
	ts, sigs, ok := parseSignatureHeader(signatureHeader)
	if !ok {
		return Event{}, ErrBadSignature
	}
	want := webhook.ComputeSignature(time.Unix(ts, 0), payload, g.webhookSecret)
	valid := false
	for _, sig := range sigs {
		if hmac.Equal(want, sig) {
			valid = true
		}
	}
	if !valid {
		return Event{}, ErrBadSignature
	}
	if age := now.Sub(time.Unix(ts, 0)); age > WebhookTolerance || age < -WebhookTolerance {
		return Event{}, ErrSignatureExpired
	}
	return parseEvent(payload)
}

// parseSignatureHeader splits "t=1492774577,v1=5257a8…,v0=6ffbb5…" into
// the timestamp and the decoded v1 signatures; other schemes are ignored.
func parseSignatureHeader(h string) (ts int64, sigs [][]byte, ok bool) {
	haveT := false
	for _, part := range strings.Split(h, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return 0, nil, false
		}
		switch k {
		case "t":
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, nil, false
			}
			ts, haveT = t, true
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	return ts, sigs, haveT && len(sigs) > 0
}

// parseEvent decodes only the fields tierup uses, so new Stripe API
// versions with other fields cannot break it.
func parseEvent(payload []byte) (Event, error) {
	var raw struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Type   string `json:"type"`
		Data   struct {
			Object struct {
				ID             string            `json:"id"`
				Object         string            `json:"object"`
				Status         string            `json:"status"`
				Metadata       map[string]string `json:"metadata"`
				PaymentIntent  json.RawMessage   `json:"payment_intent"`
				Refunded       bool              `json:"refunded"`
				Amount         int64             `json:"amount"`
				AmountRefunded int64             `json:"amount_refunded"`
			} `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Event{}, fmt.Errorf("stripegw: webhook payload is not an event: %w", err)
	}
	if raw.Object != "event" || raw.ID == "" || raw.Type == "" {
		return Event{}, errors.New("stripegw: webhook payload is not an event")
	}
	ev := Event{ID: raw.ID, Type: raw.Type}
	obj := raw.Data.Object
	switch {
	case strings.HasPrefix(raw.Type, "payment_intent.") && obj.Object == "payment_intent":
		ev.PaymentIntentID = obj.ID
		ev.Status = obj.Status
		ev.Metadata = obj.Metadata
	case raw.Type == "charge.refunded" && obj.Object == "charge":
		ev.PaymentIntentID = expandableID(obj.PaymentIntent)
		ev.Status = "partially_refunded"
		if obj.Refunded || (obj.Amount > 0 && obj.AmountRefunded >= obj.Amount) {
			ev.Status = "refunded"
		}
	}
	return ev, nil
}

// expandableID reads a Stripe reference that is either an ID string or,
// when expanded, an object with an "id".
func expandableID(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.ID
	}
	return ""
}
