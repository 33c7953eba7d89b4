package riverqueue

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// TestRetryPolicy: a job that failed unexpectedly runs again 1 s after its
// first failure, the wait doubling with each failure up to the cap, with
// jitter between half and all of it; never River's attempt⁴ seconds.
func TestRetryPolicy(t *testing.T) {
	p := retryPolicy{max: 30 * time.Second}
	tests := []struct {
		failure int
		want    time.Duration // the wait before jitter
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second},
		{6, 30 * time.Second}, {40, 30 * time.Second}, {1000, 30 * time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if got := p.delay(tt.failure); got < tt.want/2 || got > tt.want {
				t.Fatalf("failure %d: waits %s, want %s to %s", tt.failure, got, tt.want/2, tt.want)
			}
		}
	}
	// NextRetry counts the errors the job already has: this is the next.
	job := &rivertype.JobRow{Errors: make([]rivertype.AttemptError, 3)}
	if wait := time.Until(p.NextRetry(job)); wait < 4*time.Second-time.Second || wait > 8*time.Second {
		t.Errorf("after 4 failures: next run in %s, want 4–8 s", wait)
	}
}
