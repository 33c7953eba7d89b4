package app

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
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

// TestCredentialsReadFails: when reading the version fails, the entries
// stand only while the last read that succeeded is younger than refresh,
// judged when the failure comes back (a slow failure must not stretch
// them).
func TestCredentialsReadFails(t *testing.T) {
	const refresh = time.Second
	tests := []struct {
		name     string
		age      time.Duration // of the last read that succeeded
		readTime time.Duration // how long the failing read takes
		want     bool
	}{
		{"fails fast", refresh * 3 / 5, 0, true},
		{"fails within refresh", refresh * 3 / 5, refresh / 5, true},
		{"fails past refresh", refresh * 3 / 5, 2 * refresh, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCredentials(func(context.Context) (int64, error) {
					time.Sleep(tt.readTime)
					return 0, errors.New("database unavailable")
				}, refresh)
				c.seen, c.checked = 7, time.Now().Add(-tt.age)
				if got := c.current(context.Background()); got != tt.want {
					t.Errorf("current after a failed read: %v, want %v", got, tt.want)
				}
				if c.refreshing {
					t.Error("still marked refreshing after the read failed")
				}
			})
		})
	}
}

// TestCredentialsVersionMoved: a read ahead that finds the version moved
// forgets every entry, and an answer read before it is not kept.
func TestCredentialsVersionMoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const refresh = time.Second
		version := int64(7)
		c := newCredentials(func(context.Context) (int64, error) { return version, nil }, refresh)
		ctx := context.Background()
		if !c.current(ctx) {
			t.Fatal("not current after the first read")
		}
		tok := key{1}
		c.putAccount(c.generation(), tok, "acct_a")
		if id, ok := c.account(ctx, tok); !ok || id != "acct_a" {
			t.Fatalf("account = %q, %v; want acct_a", id, ok)
		}
		before := c.generation() // a request reads the database now…
		version = 8              // …another process rotates a token…
		time.Sleep(refresh * 3 / 4)
		if _, ok := c.account(ctx, tok); ok { // …and this read ahead sees it
			t.Error("the entry outlived a version that moved")
		}
		c.putAccount(before, key{2}, "acct_b")
		if _, ok := c.account(ctx, key{2}); ok {
			t.Error("an answer read before the version moved was kept")
		}
		if c.seen != 8 {
			t.Errorf("seen = %d, want 8", c.seen)
		}
	})
}
