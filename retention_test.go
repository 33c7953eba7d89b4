package tierup_test

import (
	"testing"
	"time"

	"github.com/tierup/tierup"
)

func TestRetentionDefaultsAndChecks(t *testing.T) {
	d := tierup.DefaultRetention()
	if got := (tierup.Retention{}).WithDefaults(); got != d {
		t.Errorf("zero retention with defaults = %v, want %v", got, d)
	}
	if got := (tierup.Retention{Expired: time.Hour, Heartbeats: time.Minute}).WithDefaults(); got.Expired != time.Hour || got.Heartbeats != time.Minute || got.FinishedJobs != d.FinishedJobs {
		t.Errorf("set fields lost: %v", got)
	}
	for _, tt := range []struct {
		name string
		r    tierup.Retention
		ok   bool
	}{
		{"defaults", d, true},
		{"negative", tierup.Retention{Expired: -time.Second, WebhookEvents: d.WebhookEvents}, false},
		{"webhook IDs forgotten while Stripe still retries", tierup.Retention{WebhookEvents: 24 * time.Hour}, false},
		{"three days", tierup.Retention{WebhookEvents: 72 * time.Hour}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Check()
			if (err == nil) != tt.ok || err != nil && tierup.ErrorCode(err) != tierup.CodeInvalid {
				t.Errorf("Check() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
