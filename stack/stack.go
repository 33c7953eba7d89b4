// Package stack wires tierup together — store, job queue, use cases,
// payment gateway, cluster, mailer, workflow engine, sweeper and HTTP API —
// from one set of options. It is the one wiring: the binary, every CLI
// command and the tests build the service through it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/gateway/stripegw"
	"github.com/tierup/tierup/httpapi"
	"github.com/tierup/tierup/internal/httpx"
	"github.com/tierup/tierup/kube"
	"github.com/tierup/tierup/metrics"
	"github.com/tierup/tierup/notify/smtpmail"
	"github.com/tierup/tierup/riverqueue"
	"github.com/tierup/tierup/sandbox"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/sqlstore"
	"github.com/tierup/tierup/web"
	"github.com/tierup/tierup/workflow"
)

// Options configure the service.
type Options struct {
	DB      string          // sqlite:PATH or a postgres:// URL
	Catalog *tierup.Catalog // nil: the built-in catalog
	App     app.Config      // policy, sandbox, admin token, lifetimes
	Clock   tierup.Clock    // nil: the system clock
	Log     *slog.Logger
	// SecretKey is the master secret itself, as a key file holds it (one
	// hex secret per line, current first); else SecretKeyFile names the
	// file. With neither, an embedded SQLite database keeps it in a file
	// beside its directory (made on first start); PostgreSQL refuses.
	SecretKey     string
	SecretKeyFile string

	Gateway        string        // sandbox (default) or stripe
	SandboxLatency time.Duration // how long a sandbox charge takes to answer
	Stripe         stripegw.Config
	Cluster        string // sim (default) or kube
	Sim            sim.Config
	Kubeconfig     string        // kube: path of a kubeconfig; empty means the pod's in-cluster config
	Kube           kube.Config   // kube: names, provisioner and timeouts
	Mailer         tierup.Mailer // nil: emails go to the log

	Workflow workflow.Config
	Queue    riverqueue.Config // JobTimeout and RescueAfter come from Workflow
	// TrustProxy reads the client's address and scheme from the forwarding
	// headers of the one reverse proxy every request comes through
	// (httpx.BehindProxy). Off by default: without such a proxy, clients
	// could claim any address.
	TrustProxy bool
	Shutdown   Shutdown // how Serve shuts down; zero: no delay, the default timeout
	HTTP       httpapi.LimitConfig
}

// Stack is a wired tierup.
type Stack struct {
	Store  *sqlstore.DB
	App    *app.App
	Engine *workflow.Engine
	// Sandbox parts, when in use.
	Faults *sandbox.Faults
	Ledger *sandbox.Gateway
	// StandIns is the store as the sandbox's parts and the simulated
	// cluster use it, counting their calls (sandbox.Tally).
	StandIns *sandbox.Tally
	Sim      *sim.Cluster
	Kube     *kube.Cluster
	Cluster  tierup.Cluster
	// Metrics is the service's Prometheus registry, served at /metrics.
	Metrics *metrics.Metrics
	opts    Options
	started bool
	// The sweeper deletes expired sessions, login links and idempotency
	// keys while the workflow runs.
	stopSweeper context.CancelFunc
	sweeperDone chan struct{}
}

// Open opens and migrates the store and wires every part; the workflow
// does not run until StartWorkflow, so one-shot commands use it as it is.
func Open(ctx context.Context, o Options) (*Stack, error) {
	if o.Clock == nil {
		o.Clock = tierup.SystemClock{}
	}
	if o.Catalog == nil {
		o.Catalog = tierup.DefaultCatalog()
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	db, err := sqlstore.Open(ctx, o.DB)
	if err != nil {
		return nil, err
	}
	standIns := sandbox.NewTally(db)
	s := &Stack{Store: db, opts: o, StandIns: standIns, Faults: &sandbox.Faults{Store: standIns, Clock: o.Clock, Refresh: sandbox.FaultRefresh}, Metrics: metrics.New(o.Log)}
	s.Metrics.WatchStore(db)
	if err := s.wire(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// wire builds the gateway, the cluster, the mailer, the job queue, the
// workflow engine and the use cases.
func (s *Stack) wire(ctx context.Context) error {
	o := s.opts
	if err := s.Store.Migrate(ctx); err != nil {
		return err
	}
	deps := app.Deps{Store: s.Store, Catalog: o.Catalog, Clock: o.Clock, Log: o.Log, Faults: s.Faults}
	switch o.Gateway {
	case "", "sandbox":
		g := &sandbox.Gateway{Store: s.StandIns, Clock: o.Clock, Faults: s.Faults, Latency: o.SandboxLatency}
		deps.Gateway, deps.Ledger, deps.Authenticator, s.Ledger = g, g, g, g
	case "stripe":
		g, err := stripegw.New(o.Stripe)
		if err != nil {
			return err
		}
		deps.Gateway, deps.Webhooks = g, g
	default:
		return fmt.Errorf("payment gateway %q: want sandbox or stripe", o.Gateway)
	}
	if err := s.buildCluster(); err != nil {
		return err
	}
	// The use cases and the workflow call the gateway and the cluster
	// through timing decorators; s.Cluster and the sandbox parts stay bare
	// for the tests' and commands' direct use.
	deps.Gateway = s.Metrics.Gateway(deps.Gateway)
	deps.Cluster = s.Metrics.Cluster(s.Cluster)
	if s.Sim != nil {
		deps.Sim = s.Sim
	}
	flow := o.Workflow.WithDefaults()
	if s.Kube != nil {
		// A step must outlive the waits inside it: a move is up to four
		// rollouts (forward, settle, and a rollback's two).
		kc := s.Kube.Config()
		if need := max(kc.ProvisionTimeout, 4*kc.RolloutTimeout) + time.Minute; flow.JobTimeout < need {
			o.Log.Info("job timeout raised to cover the cluster's waits", "job_timeout", need)
			flow.JobTimeout = need
		}
	}
	mailer := o.Mailer
	if mailer == nil {
		mailer = smtpmail.NewLog(o.Log)
	}
	ring, err := s.keyring()
	if err != nil {
		return err
	}
	keys, err := app.LoadKeys(ctx, s.Store, ring)
	if err != nil {
		return err
	}
	qc := o.Queue
	qc.JobTimeout, qc.RescueAfter = flow.JobTimeout, flow.JobTimeout+flow.RescueMargin
	queue, err := riverqueue.New(ctx, s.Store, qc, o.Log)
	if err != nil {
		return err
	}
	s.Engine, err = workflow.New(workflow.Deps{Store: s.Store, Queue: queue, Catalog: o.Catalog, Clock: o.Clock,
		Gateway: deps.Gateway, Cluster: deps.Cluster, Mailer: mailer, Log: o.Log, QuoteValid: keys.VerifyQuote, Metrics: s.Metrics}, flow)
	if err != nil {
		return err
	}
	deps.Keys, deps.Engine, deps.Worker, deps.Schema = keys, s.Engine, s.Engine, s.Store
	o.App.StepAttempts = flow.MaxAttempts
	s.App, err = app.New(deps, o.App)
	return err
}

// StartWorkflow starts working upgrades, this process's share of them.
func (s *Stack) StartWorkflow(ctx context.Context) error {
	if s.Kube != nil {
		if version, err := s.Kube.Ping(ctx); err != nil {
			s.opts.Log.Warn("the cluster's API server does not answer yet; upgrades that need it pause until it does", "err", err)
		} else {
			s.opts.Log.Info("cluster reachable", "kubernetes", version, "provisioner", s.Kube.Config().Provisioner)
			warnings, err := s.Kube.Warnings(ctx)
			if err != nil {
				s.opts.Log.Warn("could not tell what the cluster supports", "err", err)
			}
			for _, w := range warnings {
				s.opts.Log.Warn("cluster limitation", "kubernetes", version, "warning", w)
			}
		}
	}
	if err := s.Engine.Start(ctx); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopSweeper, s.sweeperDone = cancel, make(chan struct{})
	go func() {
		defer close(s.sweeperDone)
		s.App.RunSweeper(sctx)
	}()
	s.started = true
	return nil
}

// buildCluster builds the configured cluster: the simulated one (state in
// the store) or a Kubernetes cluster.
func (s *Stack) buildCluster() error {
	o := s.opts
	switch o.Cluster {
	case "", "sim":
		s.Sim = sim.New(s.StandIns, s.Faults, o.Sim)
		s.Cluster = s.Sim
	case "kube":
		rc, err := kube.RESTConfig(o.Kubeconfig)
		if err != nil {
			return err
		}
		c, err := kube.New(rc, o.Kube, o.Log)
		if err != nil {
			return err
		}
		s.Kube, s.Cluster = c, c
	default:
		return fmt.Errorf("cluster %q: want sim or kube", o.Cluster)
	}
	return nil
}

// Handler serves the dashboard and, behind it, the API, and /metrics to
// the admin token, so many requests at a time (Options.HTTP). Every
// request is timed by its route template; shed ones are "unmatched".
func (s *Stack) Handler() (http.Handler, error) {
	api := httpapi.New(s.App, s.opts.Log)
	dash, err := web.New(s.App, s.opts.Log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	dash.Register(mux)
	mux.Handle("GET /metrics", api.AdminOnly(s.Metrics.Handler()))
	mux.Handle("/", api.Mux())
	// A shed request is timed (as 503, route "unmatched") but not logged:
	// under overload, a line for each would take the capacity the
	// shedding keeps for the requests served.
	limit := s.opts.HTTP
	if held := limit.Held; held != nil {
		limit.Held = func() { s.Metrics.HTTPHeld(); held() }
	} else {
		limit.Held = s.Metrics.HTTPHeld
	}
	h := s.Metrics.HTTP(httpapi.Limit(api.Logged(mux), limit))
	if s.opts.TrustProxy {
		h = httpx.BehindProxy(h)
	}
	return h, nil
}

// Drain makes readiness fail (/readyz answers 503) while the process keeps
// serving: the first thing a shutdown does, so that load balancers stop
// sending requests before the server stops taking them.
func (s *Stack) Drain() { s.App.Drain() }

// StopWorkflow stops the sweeper and the workflow engine, which stops
// taking steps, lets the running ones finish and hands back those still
// running near ctx's deadline (workflow.Engine.Stop). Once is enough.
func (s *Stack) StopWorkflow(ctx context.Context) error {
	if !s.started {
		return nil
	}
	s.started = false
	s.stopSweeper()
	<-s.sweeperDone
	return s.Engine.Stop(ctx)
}

// Close stops the workflow, as StopWorkflow, and closes the store.
func (s *Stack) Close(ctx context.Context) error {
	return errors.Join(s.StopWorkflow(ctx), s.Store.Close())
}
