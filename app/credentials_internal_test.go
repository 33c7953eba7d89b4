package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestCredentialsRefreshAhead: the version is read again by one request
// once the last read is half as old as refresh, while the others use the
// entries; past refresh the others go to the database until it is read.
func TestCredentialsRefreshAhead(t *testing.T) {
	const refresh = time.Hour
	tests := []struct {
		name string
		age  time.Duration // of the last read of the version
		// want is current()'s answer to a request that comes while
		// another one's read of the version is under way, and reads is
		// whether the first request read the version at all.
		reads, want bool
	}{
		{"young", refresh / 4, false, true},
		{"past half", refresh * 3 / 4, true, true},
		{"past refresh", refresh * 5 / 4, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			started, release := make(chan struct{}), make(chan struct{})
			c := newCredentials(func(context.Context) (int64, error) {
				calls.Add(1)
				close(started)
				<-release
				return 7, nil
			}, refresh)
			c.seen, c.checked = 7, time.Now().Add(-tt.age)
			first := make(chan bool)
			go func() { first <- c.current(context.Background()) }()
			if tt.reads {
				select {
				case <-started:
				case <-time.After(10 * time.Second): // a hang, not a speed
					t.Fatal("the first request did not read the version")
				}
			}
			if got := c.current(context.Background()); got != tt.want {
				t.Errorf("a request meanwhile: current %v, want %v", got, tt.want)
			}
			close(release)
			if !<-first {
				t.Error("the first request: not current")
			}
			if n := calls.Load(); n != map[bool]int64{true: 1, false: 0}[tt.reads] {
				t.Errorf("%d reads of the version, want reads %v", n, tt.reads)
			}
			if tt.reads && time.Since(c.checked) >= refresh/4 {
				t.Error("the read did not renew the entries")
			}
		})
	}
}
