package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/gateway/stripegw"
	"github.com/tierup/tierup/httpapi"
	"github.com/tierup/tierup/kube"
	"github.com/tierup/tierup/notify/smtpmail"
	"github.com/tierup/tierup/riverqueue"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/stack"
	"github.com/tierup/tierup/workflow"
)

// options are the flags shared by every command; each has an environment
// twin TIERUP_<NAME> used when the flag is not given.
type options struct {
	retention  tierup.Retention
	addr       string
	db         string
	adminToken string
	policy     string
	catalog    string
	demo       bool
	sandbox    bool
	logFormat  string
	stdout     io.Writer
	stderr     io.Writer

	gateway             string
	sandboxLatency      time.Duration
	stripeKey           string
	stripeAPIBase       string
	stripeWebhookSecret string
	cluster             string
	simProvisionDelay   time.Duration
	simMigrateDelay     time.Duration
	simCapacity         int
	kubeconfig          string
	kube                kube.Config
	kwokCapacity        string
	karpenterReqs       string
	karpenterLimits     string
	smtpAddr            string
	smtpFrom            string
	smtpUsername        string
	smtpPassword        string
	secretKeyFile       string
	taxRate             string
	baseURL             string
	trustProxy          bool
	flow                workflow.Config
	queue               riverqueue.Config
	shutdown            stack.Shutdown
	limit               httpapi.LimitConfig
	credentialRefresh   time.Duration
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &options{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "tierup",
		Short: "Paid-plan upgrades for a Kubernetes PaaS",
		Long: `tierup quotes what an upgrade does to the days left on the current plan, takes the
payment once, switches the plan and moves the customer's workloads to a dedicated node.

Every flag has an environment twin: --db is TIERUP_DB, --admin-token is
TIERUP_ADMIN_TOKEN, and so on. Without a subcommand, tierup serves.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), o) },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// cobra adds --version when Version is set; the template drops its
	// "tierup version" prefix because buildVersion already names the binary.
	root.Version = buildVersion()
	root.SetVersionTemplate("{{.Version}}\n")
	f := root.PersistentFlags()
	f.StringVar(&o.db, "db", "sqlite:tierup-data/tierup.db", "database: sqlite:PATH or a postgres:// URL")
	f.StringVar(&o.policy, "proration-policy", string(app.DefaultConfig().Policy), "what happens to the time left on the current plan: carryover, value or credit")
	f.StringVar(&o.catalog, "catalog", "", "JSON file replacing the built-in plan catalog")
	f.BoolVar(&o.sandbox, "sandbox", true, "enable test clocks and other sandbox features (false in production)")
	f.StringVar(&o.adminToken, "admin-token", "", "admin API token; when unset one is generated on first start and printed once")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.secretKeyFile, "secret-key-file", "", "file holding the master secret every key is derived from (hex, current first, older ones below for rotation); "+
		"TIERUP_SECRET_KEY may hold the secret itself; required with PostgreSQL; with SQLite, made beside the data directory on first start")

	serveCmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API server (the default command)",
		Long: `Run the API server. On first start it applies the migrations, creates the admin
token (unless --admin-token is given) and, with --demo, a demo account on
Hobby, and prints their tokens once.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), o) },
	}
	// doctor takes serve's flags, to check the configuration serve runs with.
	doctorCmd := newDoctorCommand(o)
	for _, c := range []*cobra.Command{root, serveCmd, doctorCmd} {
		fs := c.Flags()
		fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
		fs.BoolVar(&o.trustProxy, "trust-proxy", false, "every request comes through one reverse proxy (ingress, load balancer): take the client's address and https from its Forwarded or X-Forwarded-For/-Proto headers")
		fs.BoolVar(&o.demo, "demo", true, "seed a demo account on an empty database")
		fs.StringVar(&o.gateway, "payment-gateway", "sandbox", "payment gateway: sandbox (Stripe's test cards, ledger in the database) or stripe")
		fs.DurationVar(&o.sandboxLatency, "sandbox-charge-latency", 0, "sandbox gateway: how long a charge takes to answer (to rehearse crashes mid-payment)")
		fs.StringVar(&o.stripeKey, "stripe-secret-key", "", "Stripe secret key (stripe gateway)")
		fs.StringVar(&o.stripeAPIBase, "stripe-api-base", "", "Stripe API base URL, e.g. a stripe-mock at http://127.0.0.1:12111 (stripe gateway)")
		fs.StringVar(&o.stripeWebhookSecret, "stripe-webhook-secret", "", "signing secret of POST /v1/webhooks/stripe (stripe gateway)")
		clusterFlags(fs, o)
		fs.StringVar(&o.smtpAddr, "smtp-addr", "", "SMTP relay host:port for emails; when empty, emails are written to the log")
		fs.StringVar(&o.smtpFrom, "smtp-from", "tierup <noreply@tierup.dev>", "sender of emails")
		fs.StringVar(&o.smtpUsername, "smtp-username", "", "SMTP username (AUTH PLAIN, only over TLS or loopback)")
		fs.StringVar(&o.smtpPassword, "smtp-password", "", "SMTP password")
		fd, qd := workflow.DefaultConfig(), riverqueue.DefaultConfig()
		fs.StringVar(&o.flow.SupportEmail, "support-email", fd.SupportEmail, "address told about upgrades that need support")
		fs.IntVar(&o.flow.MaxAttempts, "retry-attempts", fd.MaxAttempts, "automatic attempts of a failing step before support takes over")
		fs.DurationVar(&o.flow.BaseDelay, "retry-base-delay", fd.BaseDelay, "first retry delay; doubles each attempt, with jitter")
		fs.DurationVar(&o.flow.MaxDelay, "retry-max-delay", fd.MaxDelay, "longest retry delay")
		fs.DurationVar(&o.flow.PauseProbe, "pause-probe", fd.PauseProbe, "how often a paused upgrade checks whether the cluster or gateway is back")
		fs.DurationVar(&o.flow.JobTimeout, "job-timeout", fd.JobTimeout, "longest a workflow step may run (with --cluster kube, raised to cover the cluster's waits); a step whose process died is resumed by a live process within about 5s")
		fs.DurationVar(&o.flow.ProgressEvery, "progress-every", fd.ProgressEvery, "how long a migration moves workloads one after another before it commits what it moved: the moves that start within it share a commit, each with its own event; a longer move is committed before the next starts (at most a quarter of --job-timeout)")
		fs.IntVar(&o.queue.Workers, "workers", qd.Workers, "workflow steps run at once by this process")
		fs.DurationVar(&o.flow.AuthenticationTimeout, "authentication-timeout", fd.AuthenticationTimeout, "how long a payment waits for the customer's 3-D Secure authentication before it fails")
		fs.DurationVar(&o.flow.AuthenticationCheck, "authentication-check", fd.AuthenticationCheck, "how often a payment awaiting 3-D Secure reads the charge again (webhooks and the challenge page check at once)")
		ld := httpapi.DefaultLimitConfig()
		fs.IntVar(&o.limit.MaxInFlight, "http-max-in-flight", ld.MaxInFlight, "requests served at once; event streams, probes and /metrics are not counted")
		fs.IntVar(&o.limit.MaxQueue, "http-max-queue", ld.MaxQueue, "requests waiting for one of those slots; past them a request is answered 503 overloaded with Retry-After")
		fs.DurationVar(&o.limit.QueueWait, "http-queue-wait", ld.QueueWait, "longest a request waits for a slot before it is answered 503 overloaded")
		fs.DurationVar(&o.credentialRefresh, "credential-refresh", app.DefaultConfig().CredentialRefresh,
			"how long a token replaced or a session ended by another process (tierup token, another server) may still be accepted: how often the cache of credentials checks the database; 0 turns the cache off")
		receiptFlags(fs, o, fd.Receipts)
		sd := stack.DefaultShutdown()
		fs.DurationVar(&o.shutdown.Delay, "shutdown-delay", sd.Delay, "after SIGTERM, how long /readyz fails while requests are still served, so that load balancers stop sending them first (a second signal cuts it short)")
		fs.DurationVar(&o.shutdown.Timeout, "shutdown-timeout", sd.Timeout, "bound of the shutdown after the delay: requests and steps finish, those still running near its end are handed back to other processes; "+
			"keep delay + timeout within Kubernetes' terminationGracePeriodSeconds (30s by default)")
		rd := tierup.DefaultRetention()
		o.retention = rd
		fs.DurationVar(&o.retention.Expired, "retention-expired", rd.Expired, "how long expired dashboard sessions, sign-in links and idempotency keys are kept before they are purged")
		fs.DurationVar(&o.retention.WebhookEvents, "retention-webhook-events", rd.WebhookEvents, "how long processed webhook event IDs are remembered (at least 72h: Stripe retries for 3 days)")
		fs.DurationVar(&o.retention.Heartbeats, "retention-heartbeats", rd.Heartbeats, "how long the heartbeat of a process that died is kept (a clean shutdown deletes its own)")
		fs.DurationVar(&o.retention.FinishedJobs, "retention-finished-jobs", rd.FinishedJobs, "how long the job queue keeps the jobs of finished steps (upgrades and their audit log are kept for good)")
	}

	var quoteAccount, quotePlan string
	quoteCmd := &cobra.Command{
		Use:   "quote --account ID --plan PLAN",
		Short: "Quote an upgrade for an account, straight from the database",
		Long: `Price an account's upgrade with the configured proration policy and print the
explanation and the figures. It works on the database directly (no server
needed) and stores the quote, exactly as POST /v1/quotes does.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApp(cmd.Context(), o, func(a *app.App) error {
				q, err := a.CreateQuote(cmd.Context(), quoteAccount, quotePlan)
				if err != nil {
					return err
				}
				printQuote(o.stdout, q.Quote)
				return nil
			})
		},
	}
	quoteCmd.Flags().StringVar(&quoteAccount, "account", "", "account ID (acct_…)")
	quoteCmd.Flags().StringVar(&quotePlan, "plan", "", "target plan ID, e.g. pro-3m")
	_ = quoteCmd.MarkFlagRequired("account")
	_ = quoteCmd.MarkFlagRequired("plan")

	root.AddCommand(serveCmd, quoteCmd,
		&cobra.Command{
			Use:   "migrate",
			Short: "Apply the database migrations and exit",
			RunE: func(cmd *cobra.Command, _ []string) error {
				st, err := openStack(cmd.Context(), o)
				if err != nil {
					return err
				}
				defer st.Close(cmd.Context())
				fmt.Fprintf(o.stdout, "migrations applied to %s database\n", st.Store.Dialect())
				return nil
			},
		},
		&cobra.Command{
			Use:   "plans",
			Short: "Print the plan catalog as a table",
			RunE: func(cmd *cobra.Command, _ []string) error {
				cat, err := loadCatalog(o.catalog)
				if err != nil {
					return err
				}
				printPlans(o.stdout, cat)
				return nil
			},
		},
		newLoginLinkCommand(o),
		&cobra.Command{
			Use:   "token ACCOUNT_ID",
			Short: "Issue a new API token for an account (the old one stops working)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withApp(cmd.Context(), o, func(a *app.App) error {
					token, err := a.IssueToken(cmd.Context(), args[0])
					if err != nil {
						return err
					}
					fmt.Fprintln(o.stdout, token)
					return nil
				})
			},
		},
	)
	root.AddCommand(newMigratePlanCommand(o), newVersionCommand(o), newUpgradesCommand(o), newTicketsCommand(o), doctorCmd)
	return root
}

// newLoginLinkCommand is `tierup login-link`: a whole sign-in link for the
// dashboard at --base-url.
func newLoginLinkCommand(o *options) *cobra.Command {
	var base string
	cmd := &cobra.Command{
		Use:   "login-link ACCOUNT_ID",
		Short: "Make a one-time dashboard sign-in link for an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), o, func(a *app.App) error {
				token, expires, err := a.NewLoginLink(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(o.stdout, "%s/login?token=%s\n(works once, until %s)\n", strings.TrimRight(base, "/"), token, expires.Format(time.RFC3339))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&base, "base-url", "http://127.0.0.1:8080", "the dashboard's address, as served (--addr) or public (--base-url of serve)")
	return cmd
}

// applyEnv fills every flag not given on the command line from its
// environment twin: --proration-policy ← TIERUP_PRORATION_POLICY.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		name := "TIERUP_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && !f.Changed && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

func (o *options) logger() *slog.Logger {
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(o.stderr, nil))
	}
	return slog.New(slog.NewTextHandler(o.stderr, nil))
}

func loadCatalog(path string) (*tierup.Catalog, error) {
	if path == "" {
		return tierup.DefaultCatalog(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tierup.ParseCatalog(f)
}

// stackOptions turns the flags into the service's options.
func (o *options) stackOptions() (stack.Options, error) {
	policy, err := tierup.ParsePolicy(o.policy)
	if err != nil {
		return stack.Options{}, err
	}
	cat, err := loadCatalog(o.catalog)
	if err != nil {
		return stack.Options{}, err
	}
	so := stack.Options{DB: o.db, Catalog: cat, App: app.Config{Policy: policy, Sandbox: o.sandbox, AdminToken: o.adminToken}, Log: o.logger(),
		Gateway: o.gateway, SandboxLatency: o.sandboxLatency, Stripe: stripegw.Config{SecretKey: o.stripeKey, APIBase: o.stripeAPIBase, WebhookSecret: o.stripeWebhookSecret},
		Cluster: o.cluster, Sim: sim.Config{ProvisionDelay: o.simProvisionDelay, MigrateDelay: o.simMigrateDelay, Capacity: o.simCapacity},
		Kubeconfig: o.kubeconfig, Kube: o.kube, Workflow: o.flow, Queue: o.queue, TrustProxy: o.trustProxy, Shutdown: o.shutdown, HTTP: o.limit,
		SecretKey: os.Getenv("TIERUP_SECRET_KEY"), SecretKeyFile: o.secretKeyFile}
	if err := o.parseKube(&so.Kube); err != nil {
		return stack.Options{}, err
	}
	if so.Workflow.Receipts, err = o.receipts(); err != nil {
		return stack.Options{}, err
	}
	// Commands other than serve have no retention flags: the defaults.
	ret := o.retention.WithDefaults()
	if err := ret.Check(); err != nil {
		return stack.Options{}, fmt.Errorf("--retention-*: %w", err)
	}
	so.App.Retention = ret
	if err := o.shutdown.Check(); err != nil {
		return stack.Options{}, fmt.Errorf("--shutdown-delay, --shutdown-timeout: %w", err)
	}
	if so.App.CredentialRefresh = o.credentialRefresh; o.credentialRefresh == 0 {
		so.App.CredentialRefresh = -1 // off; zero is the default in app.Config
	}
	so.Workflow.HeartbeatRetention, so.Queue.FinishedJobRetention = ret.Heartbeats, ret.FinishedJobs
	if o.smtpAddr != "" {
		so.Mailer = smtpmail.New(smtpmail.Config{Addr: o.smtpAddr, From: o.smtpFrom, Username: o.smtpUsername, Password: o.smtpPassword})
	}
	return so, nil
}

func openStack(ctx context.Context, o *options) (*stack.Stack, error) {
	so, err := o.stackOptions()
	if err != nil {
		return nil, err
	}
	return stack.Open(ctx, so)
}

// withApp opens the service without its workflow, for a one-shot command.
func withApp(ctx context.Context, o *options, f func(*app.App) error) error {
	st, err := openStack(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close(context.WithoutCancel(ctx))
	return f(st.App)
}

func serve(ctx context.Context, o *options) error {
	st, err := openStack(ctx, o)
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := st.Close(stopCtx); err != nil {
			o.logger().Warn("shutting down", "err", err)
		}
	}()
	boot, err := st.App.EnsureAdminToken(ctx)
	if err != nil {
		return err
	}
	if err := st.StartWorkflow(ctx); err != nil {
		return err
	}
	a, log := st.App, o.logger()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	// Everything is printed before the "listening" line, which tells
	// scripts and tests that the server is ready.
	base := "http://" + ln.Addr().String()
	if boot.AdminToken != "" {
		fmt.Fprintf(o.stdout, "admin token (shown once, only its hash is stored): %s\n", boot.AdminToken)
	}
	if o.demo {
		demo, token, err := a.SeedDemo(ctx)
		if err != nil {
			ln.Close()
			return fmt.Errorf("seeding the demo account: %w", err)
		}
		if demo != nil {
			fmt.Fprintf(o.stdout, "demo account %s (%s, %s), token (shown once): %s\n", demo.ID, demo.Email, demo.Subscription.PlanName, token)
			fmt.Fprintf(o.stdout, "try: curl -H 'Authorization: Bearer %s' %s/v1/account\n", token, base)
			link, _, err := a.NewLoginLink(ctx, demo.ID)
			if err != nil {
				ln.Close()
				return err
			}
			fmt.Fprintf(o.stdout, "dashboard: open %s/login?token=%s (works once; `go run ./cmd/tierup login-link %s --base-url %s`, or `tierup login-link …` with a built binary, makes another)\n",
				base, link, demo.ID, base)
		}
	}
	fmt.Fprintf(o.stdout, "tierup listening on %s (database %s, proration policy %s, sandbox %v, gateway %s, cluster %s)\n",
		base, strings.SplitN(o.db, ":", 2)[0], o.policy, o.sandbox, o.gateway, o.cluster)

	hurry, stopHurry := secondSignal(ctx)
	defer stopHurry()
	if err := st.Serve(ctx, ln, hurry); err != nil {
		return err
	}
	log.Info("shutdown: closing the store")
	return nil
}

func printPlans(w io.Writer, cat *tierup.Catalog) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPRICE\tFUNCTIONS\tCRONJOBS\tSTORAGE\tNODES\tBACKUPS\tSUPPORT\tUPTIME")
	for _, p := range cat.Plans() {
		if p.Retired {
			continue
		}
		nodes := "shared"
		if p.Limits.DedicatedNodes > 0 {
			nodes = fmt.Sprintf("%d dedicated", p.Limits.DedicatedNodes)
		}
		backups := "none"
		if p.Limits.BackupRetentionDays > 0 {
			backups = fmt.Sprintf("daily, %d days", p.Limits.BackupRetentionDays)
		}
		uptime := "-"
		if p.Entitlements.UptimeSLA != "" {
			uptime = p.Entitlements.UptimeSLA + "%"
		}
		price := "free"
		if !p.Free() {
			price = p.Price.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d GB %s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, price,
			limit(p.Limits.Functions), limit(p.Limits.CronJobs), p.Limits.StorageGB, p.Entitlements.StorageClass,
			nodes, backups, strings.ReplaceAll(p.Entitlements.Support, "_", " "), uptime)
	}
	tw.Flush()
}

func limit(n *int64) string {
	if n == nil {
		return "unlimited"
	}
	return fmt.Sprint(*n)
}

func printQuote(w io.Writer, q *tierup.Quote) {
	fmt.Fprintf(w, "%s\n\n", q.Explanation)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "quote\t%s (expires %s)\n", q.ID, q.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "change\t%s → %s, policy %s\n", q.FromPlan, q.ToPlan, q.Policy)
	fmt.Fprintf(tw, "remaining\t%d s (%d days)\n", q.RemainingSeconds, q.RemainingDays)
	adj := fmt.Sprintf("%s %+d s", q.Adjustment.Kind, q.Adjustment.Seconds)
	if q.Adjustment.Amount != nil {
		adj = fmt.Sprintf("%s %s", q.Adjustment.Kind, q.Adjustment.Amount)
	}
	fmt.Fprintf(tw, "adjustment\t%s\n", adj)
	fmt.Fprintf(tw, "new period\t%s → %s\n", q.NewPeriod.Start.Format(time.RFC3339), q.NewPeriod.End.Format(time.RFC3339))
	for _, l := range q.Lines {
		fmt.Fprintf(tw, "  %s\t%s\n", l.Description, l.Amount)
	}
	fmt.Fprintf(tw, "amount due\t%s\n", q.AmountDue)
	if q.AccountCredit != nil {
		fmt.Fprintf(tw, "account credit\t%s\n", q.AccountCredit)
	}
	tw.Flush()
}
