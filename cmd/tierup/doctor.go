package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/deploy"
	"github.com/tierup/tierup/gateway/stripegw"
	"github.com/tierup/tierup/kube"
	"github.com/tierup/tierup/notify/smtpmail"
	"github.com/tierup/tierup/sqlstore"
	"github.com/tierup/tierup/stack"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
)

// check is one line of `tierup doctor`: ok and what was found, or what to
// fix.
type check struct {
	name   string
	ok     bool
	result string
}

// newDoctorCommand is `tierup doctor`. It takes the same flags (and
// environment) as serve, so that it checks exactly the configuration the
// server would run with.
func newDoctorCommand(o *options) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the database, master secret, payment gateway, SMTP relay and cluster serve would use",
		Long: `Check, with the same flags and environment as serve, everything tierup needs:
the database is reachable and migrated, the master secret is there, the payment
gateway takes the key, the SMTP relay answers, and with --cluster kube the
cluster is reachable and grants every permission of deploy/rbac.yaml. One line
each, "ok" or what to fix; the exit code is 1 when any check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks := runDoctor(cmd.Context(), o, timeout)
			tw := tabwriter.NewWriter(o.stdout, 0, 0, 2, ' ', 0)
			failed := 0
			for _, c := range checks {
				verdict := "ok"
				if !c.ok {
					verdict, failed = "FAIL", failed+1
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.name, verdict, c.result)
			}
			tw.Flush()
			if failed > 0 {
				return fmt.Errorf("%d of %d checks failed", failed, len(checks))
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "check-timeout", 10*time.Second, "longest one check may take")
	return cmd
}

// runDoctor runs every check, each under its own timeout so that one
// unreachable service does not hide the others.
func runDoctor(ctx context.Context, o *options, timeout time.Duration) []check {
	var out []check
	add := func(name string, f func(ctx context.Context) (string, error)) {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := f(cctx)
		if err != nil {
			out = append(out, check{name: name, result: err.Error()})
			return
		}
		out = append(out, check{name: name, ok: true, result: res})
	}
	so, err := o.stackOptions()
	if err != nil {
		return []check{{name: "flags", result: err.Error()}}
	}

	dialect := sqlstore.Postgres
	if strings.HasPrefix(o.db, "sqlite:") {
		dialect = sqlstore.SQLite
	}
	add("database", func(ctx context.Context) (string, error) { return checkDatabase(ctx, o.db) })
	add("master secret", func(context.Context) (string, error) {
		src, err := stack.CheckSecret(so, dialect)
		if err != nil {
			return "", fmt.Errorf("%w (--secret-key-file, TIERUP_SECRET_KEY_FILE or TIERUP_SECRET_KEY)", err)
		}
		return src, nil
	})
	add("payment gateway", func(ctx context.Context) (string, error) { return checkGateway(ctx, o.gateway, so.Stripe) })
	add("smtp", func(ctx context.Context) (string, error) {
		mailer, ok := so.Mailer.(*smtpmail.Mailer)
		if !ok {
			return "none configured (--smtp-addr): emails are written to the log", nil
		}
		if err := mailer.Check(ctx); err != nil {
			return "", fmt.Errorf("%w: check --smtp-addr, --smtp-username and --smtp-password", err)
		}
		return fmt.Sprintf("%s answers", o.smtpAddr), nil
	})
	switch o.cluster {
	case "", "sim":
		out = append(out, check{name: "cluster", ok: true, result: "simulated (sim): nothing to reach"})
	case "kube":
		kc, err := kubeClient(o.kubeconfig)
		if err != nil {
			out = append(out, check{name: "cluster", result: err.Error()})
			break
		}
		reachable := false
		add("cluster", func(ctx context.Context) (string, error) {
			// The discovery client's ServerVersion takes no context; the
			// same GET /version through its REST client does.
			var v version.Info
			b, err := kc.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
			if err == nil {
				err = json.Unmarshal(b, &v)
			}
			if err != nil {
				return "", fmt.Errorf("API server unreachable: %w (check --kubeconfig)", err)
			}
			reachable = true
			return "reachable, Kubernetes " + v.GitVersion, nil
		})
		if reachable {
			add("cluster rbac", func(ctx context.Context) (string, error) { return checkRBAC(ctx, kc) })
		}
	default:
		out = append(out, check{name: "cluster", result: fmt.Sprintf("--cluster %q: want sim or kube", o.cluster)})
	}
	return out
}

func checkDatabase(ctx context.Context, dsn string) (string, error) {
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("cannot open the database: %w (check --db)", err)
	}
	defer db.Close()
	cur, latest, err := db.SchemaVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("unreachable or unreadable: %w (check --db)", err)
	}
	switch {
	case cur < latest:
		return "", fmt.Errorf("%s, schema at version %d of %d: run `tierup migrate` (serve also migrates on start)", db.Dialect(), cur, latest)
	case cur > latest:
		return "", fmt.Errorf("%s, schema at version %d, newer than this binary's %d: run a newer tierup", db.Dialect(), cur, latest)
	}
	return fmt.Sprintf("%s, migrations current (version %d)", db.Dialect(), cur), nil
}

func checkGateway(ctx context.Context, name string, cfg stripegw.Config) (string, error) {
	switch name {
	case "", "sandbox":
		return "sandbox, test cards only", nil
	case "stripe":
	default:
		return "", fmt.Errorf("--payment-gateway %q: want sandbox or stripe", name)
	}
	g, err := stripegw.New(cfg)
	if err != nil {
		return "", fmt.Errorf("%w (--stripe-secret-key, TIERUP_STRIPE_SECRET_KEY)", err)
	}
	live, err := g.Check(ctx)
	if err != nil {
		var pe *tierup.PaymentError
		if errors.As(err, &pe) {
			return "", fmt.Errorf("stripe refused: %s (code %s): check --stripe-secret-key", pe.Message, pe.Code)
		}
		return "", fmt.Errorf("stripe: %w", err)
	}
	mode := "test mode"
	if live {
		mode = "live mode"
	}
	if cfg.WebhookSecret == "" {
		mode += "; no --stripe-webhook-secret, so 3-D Secure results arrive by polling only"
	}
	return "stripe, key accepted, " + mode, nil
}

func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	rc, err := kube.RESTConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	return kc, nil
}

// checkRBAC asks for every permission deploy/rbac.yaml grants.
func checkRBAC(ctx context.Context, kc kubernetes.Interface) (string, error) {
	need, err := kube.RequiredAccess(deploy.RBAC())
	if err != nil {
		return "", err
	}
	missing, err := kube.MissingAccess(ctx, kc, need)
	if err != nil {
		return "", err
	}
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, a := range missing {
			names[i] = a.String()
		}
		return "", fmt.Errorf("missing %d of %d permissions: %s; apply deploy/rbac.yaml and bind ClusterRole tierup to this identity",
			len(missing), len(need), strings.Join(names, ", "))
	}
	return fmt.Sprintf("all %d permissions of deploy/rbac.yaml granted", len(need)), nil
}
