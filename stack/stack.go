// Package stack wires tierup together — store, use cases, payment gateway,
// cluster, mailer, workflow engine and HTTP API — from one set of options.
// The binary and the end-to-end tests build the service the same way.
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
	"github.com/tierup/tierup/kube"
	"github.com/tierup/tierup/notify/smtpmail"
	"github.com/tierup/tierup/sandbox"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/sqlstore"
	"github.com/tierup/tierup/web"
	"github.com/tierup/tierup/workflow"
)

// Options configure the service.
type Options struct {
	DB         string          // sqlite:PATH or a postgres:// URL
	Catalog    *tierup.Catalog // nil: the built-in catalog
	Policy     tierup.Policy
	Sandbox    bool
	AdminToken string
	Clock      tierup.Clock // nil: the system clock
	Log        *slog.Logger

	Gateway        string        // sandbox (default) or stripe
	SandboxLatency time.Duration // how long a sandbox charge takes to answer
	Stripe         stripegw.Config
	Cluster        string // sim (default) or kube
	Sim            sim.Config
	Kubeconfig     string        // kube: path of a kubeconfig; empty means the pod's in-cluster config
	Kube           kube.Config   // kube: names, provisioner and timeouts
	Mailer         tierup.Mailer // nil: emails go to the log

	Workflow workflow.Config
}

// Stack is a wired tierup.
type Stack struct {
	Store  *sqlstore.DB
	App    *app.App
	Engine *workflow.Engine
	// Sandbox parts, when in use.
	Faults  *sandbox.Faults
	Ledger  *sandbox.Gateway
	Sim     *sim.Cluster
	Kube    *kube.Cluster
	cluster tierup.Cluster
	opts    Options
	started bool
}

// Open opens and migrates the store and builds the use cases; enough for
// one-shot commands. Call StartWorkflow to run upgrades.
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
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a, err := app.New(ctx, db, o.Catalog, o.Clock, o.Log, app.Config{Policy: o.Policy, Sandbox: o.Sandbox, AdminToken: o.AdminToken})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Stack{Store: db, App: a, opts: o, Faults: &sandbox.Faults{Store: db, Clock: o.Clock}}, nil
}

// StartWorkflow builds the gateway, the cluster and the mailer, and starts
// working upgrades, this process's share of them.
func (s *Stack) StartWorkflow(ctx context.Context) error {
	o := s.opts
	up := app.Upgrades{Faults: s.Faults}
	switch o.Gateway {
	case "", "sandbox":
		g := &sandbox.Gateway{Store: s.Store, Clock: o.Clock, Faults: s.Faults, Latency: o.SandboxLatency}
		up.Gateway, up.Ledger, s.Ledger = g, g, g
	case "stripe":
		g, err := stripegw.New(o.Stripe)
		if err != nil {
			return err
		}
		up.Gateway, up.Stripe = g, g
	default:
		return fmt.Errorf("payment gateway %q: want sandbox or stripe", o.Gateway)
	}

	cluster, err := s.Cluster()
	if err != nil {
		return err
	}
	up.Cluster, up.Sim = cluster, s.Sim
	flow := o.Workflow
	if s.Kube != nil {
		kc := s.Kube.Config()
		if version, err := s.Kube.Ping(ctx); err != nil {
			o.Log.Warn("the cluster's API server does not answer yet; upgrades that need it pause until it does", "err", err)
		} else {
			o.Log.Info("cluster reachable", "kubernetes", version, "provisioner", kc.Provisioner)
		}
		// A step must outlive the waits inside it: a move is up to four
		// rollouts (forward, settle, and a rollback's two).
		need := max(kc.ProvisionTimeout, 4*kc.RolloutTimeout) + time.Minute
		if flow.JobTimeout < need {
			o.Log.Info("job timeout raised to cover the cluster's waits", "job_timeout", need)
			flow.JobTimeout = need
		}
	}

	mailer := o.Mailer
	if mailer == nil {
		mailer = smtpmail.NewLog(o.Log)
	}
	engine, err := workflow.New(ctx, workflow.Deps{Store: s.Store, Catalog: o.Catalog, Clock: o.Clock, Gateway: up.Gateway,
		Cluster: cluster, Mailer: mailer, Log: o.Log, QuoteValid: s.App.VerifyQuote}, flow)
	if err != nil {
		return err
	}
	up.Engine, s.Engine = engine, engine
	s.App.SetUpgrades(up)
	if err := engine.Start(ctx); err != nil {
		return err
	}
	s.started = true
	return nil
}

// Cluster returns the configured cluster, built on first use: the
// simulated one (state in the store) or a Kubernetes cluster.
func (s *Stack) Cluster() (tierup.Cluster, error) {
	if s.cluster != nil {
		return s.cluster, nil
	}
	o := s.opts
	switch o.Cluster {
	case "", "sim":
		s.Sim = sim.New(s.Store, s.Faults, o.Sim)
		s.cluster = s.Sim
	case "kube":
		rc, err := kube.RESTConfig(o.Kubeconfig)
		if err != nil {
			return nil, err
		}
		c, err := kube.New(rc, o.Kube, o.Log)
		if err != nil {
			return nil, err
		}
		s.Kube, s.cluster = c, c
	default:
		return nil, fmt.Errorf("cluster %q: want sim or kube", o.Cluster)
	}
	return s.cluster, nil
}

// Handler serves the dashboard and, behind it, the API.
func (s *Stack) Handler() (http.Handler, error) {
	api := httpapi.New(s.App, s.opts.Log)
	dash, err := web.New(s.App, s.opts.Log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	dash.Register(mux)
	mux.Handle("/", api.Mux())
	return api.Logged(mux), nil
}

// Close stops the workflow (finishing running steps) and closes the store.
func (s *Stack) Close(ctx context.Context) error {
	var err error
	if s.started {
		err = s.Engine.Stop(ctx)
	}
	return errors.Join(err, s.Store.Close())
}
