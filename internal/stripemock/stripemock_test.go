package stripemock_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/tierup/tierup/internal/stripemock"
)

func TestStart(t *testing.T) {
	base := stripemock.Start(t)
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("Start = %q, want http://127.0.0.1:<port>", base)
	}
	req, err := http.NewRequest(http.MethodGet, base+"/v1/payment_intents/pi_123", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk_test_123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET payment intent: %s", res.Status)
	}
}
