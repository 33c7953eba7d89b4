package web_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestRetryFromAStalePage: a retry posted from a page left open after the
// payment went through (a second tab, a second click) goes to the progress
// page, which says what happened, instead of a 422 page without the form
// the error belongs to.
func TestRetryFromAStalePage(t *testing.T) {
	d := newDashboard(t)
	d.Decline(t)
	good := "number=4242+4242+4242+4242&exp_month=3&exp_year=2030&cvc=123&name=Ada+Lovelace&saved=new"
	bad := "number=4242&exp_month=3&exp_year=2030&cvc=123&name=Ada+Lovelace&saved=new"
	progress := "/upgrades/" + url.PathEscape(d.Declined.Upgrade)
	tests := []struct {
		name   string
		body   string
		status int
		to     string
	}{
		{"the retry", good, http.StatusSeeOther, progress},
		{"the same form again", good, http.StatusSeeOther, progress},
		{"a bad card on the stale page", bad, http.StatusSeeOther, progress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := d.post(progress+"/payment", tt.body, true)
			if w.Code != tt.status || w.Header().Get("Location") != tt.to {
				t.Fatalf("%d to %q, want %d to %q: %.300s", w.Code, w.Header().Get("Location"), tt.status, tt.to, w.Body.String())
			}
		})
	}
	// Declined again, a bad card is the form's error, as before.
	d.Decline(t)
	if w := d.post(progress+"/payment", bad, true); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("a bad card on a declined upgrade: %d, want 422", w.Code)
	}
}
