package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tierup/tierup/eventstream"
	"github.com/tierup/tierup/httpapi"
)

// Shutdown paces Serve's graceful shutdown.
type Shutdown struct {
	// Delay is how long, once told to stop, the process keeps serving with
	// readiness failing, so that load balancers and Kubernetes' endpoints
	// stop sending it traffic before it stops taking any (zero: none).
	Delay time.Duration
	// Timeout bounds everything after the delay: requests and event
	// streams end, running steps finish, the ones still running near its
	// end are handed back to other processes (zero: the default).
	Timeout time.Duration
}

// DefaultShutdown returns the defaults, 5s and 25s: together within
// Kubernetes' default terminationGracePeriodSeconds of 30.
func DefaultShutdown() Shutdown { return Shutdown{Delay: 5 * time.Second, Timeout: 25 * time.Second} }

// Check refuses a negative delay and a timeout that is not positive.
func (c Shutdown) Check() error {
	if c.Delay < 0 || c.Timeout <= 0 {
		return fmt.Errorf("shutdown delay %s, timeout %s: want a delay of 0 or more and a positive timeout", c.Delay, c.Timeout)
	}
	return nil
}

// Serve serves the dashboard and the API on ln until ctx ends, then shuts
// down gracefully, each phase logged:
//
//  1. readiness fails (/readyz answers 503, draining) while the server
//     keeps serving for the shutdown delay, or until hurry closes (nil:
//     never);
//  2. within the shutdown timeout, at once and side by side: the workflow
//     stops taking steps and lets the running ones finish, handing back
//     those still running in the timeout's last fifth (workflow.Engine.Stop);
//     event streams end, telling their clients to reconnect at once; the
//     listener closes and the requests in flight finish.
//
// The workflow must have been started; the caller closes the store after.
// Serve returns nil when all of it went well.
func (s *Stack) Serve(ctx context.Context, ln net.Listener, hurry <-chan struct{}) error {
	cfg, log := s.opts.Shutdown, s.opts.Log
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultShutdown().Timeout
	}
	handler, err := s.Handler()
	if err != nil {
		ln.Close()
		return err
	}
	// Only event streams outlast a request's usual time: they end on their
	// own signal, and the other requests in flight are left to finish.
	streamsEnd := make(chan struct{})
	base := eventstream.WithShutdown(context.WithoutCancel(ctx), streamsEnd)
	srv := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return base },
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if !s.opts.TrustProxy {
		// Behind a proxy a connection carries many clients' requests: one
		// client's 503 must not hold another's.
		srv.ConnContext = httpapi.ConnContext
	}
	srv.RegisterOnShutdown(func() { close(streamsEnd) })
	var conns connStates
	srv.ConnState = conns.track
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	s.Drain()
	log.Info("shutdown: draining, /readyz fails while requests are still served", "delay", cfg.Delay)
	delay := time.NewTimer(cfg.Delay)
	select {
	case <-delay.C:
	case <-hurry:
		delay.Stop()
		log.Info("shutdown: the delay is cut short")
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Timeout)
	defer cancel()
	log.Info("shutdown: no new steps, event streams end, the listener closes; requests and steps in flight may finish", "timeout", cfg.Timeout)
	var wg sync.WaitGroup
	var httpErr error
	wg.Go(func() {
		if httpErr = srv.Shutdown(sctx); httpErr != nil {
			// Shutdown also waits for connections that never carried a
			// request (a client's spare dial) until they are 5 s old:
			// those are no request in flight.
			active := conns.active()
			closeErr := srv.Close()
			httpErr = nil
			if active > 0 {
				httpErr = errors.Join(fmt.Errorf("%d requests still in flight: %w", active, sctx.Err()), closeErr)
			}
		}
	})
	flowErr := s.StopWorkflow(sctx)
	wg.Wait()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		httpErr = errors.Join(httpErr, err)
	}
	log.Info("shutdown: server and workflow stopped", "err", errors.Join(httpErr, flowErr))
	return errors.Join(httpErr, flowErr)
}

// connStates follows the server's connections by state.
type connStates struct {
	mu    sync.Mutex
	state map[net.Conn]http.ConnState
}

func (c *connStates) track(conn net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		c.state = map[net.Conn]http.ConnState{}
	}
	switch st {
	case http.StateHijacked, http.StateClosed:
		delete(c.state, conn)
	default:
		c.state[conn] = st
	}
}

// active counts the connections serving a request now.
func (c *connStates) active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, st := range c.state {
		if st == http.StateActive {
			n++
		}
	}
	return n
}
