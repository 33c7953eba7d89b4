// Command tierup runs paid-plan upgrades for a Kubernetes PaaS: the API
// server, migrations and operator commands. See the README.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newRootCommand(stdout, stderr)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "tierup:", err)
		return 1
	}
	return 0
}

// secondSignal returns a channel closed when SIGINT or SIGTERM comes again
// after ctx ended (the first one ends it, in main), to cut the shutdown
// delay short; stop releases it.
func secondSignal(ctx context.Context) (again <-chan struct{}, stop func()) {
	ch, quit := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-quit:
			return
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		select {
		case <-sig:
			close(ch)
		case <-quit:
		}
	}()
	return ch, sync.OnceFunc(func() { close(quit) })
}
