package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tierup/tierup"
)

// newMigratePlanCommand is `tierup migrate-plan`: the dry run of an
// account's workload migration.
func newMigratePlanCommand(o *options) *cobra.Command {
	var account string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate-plan --account ID [--json]",
		Short: "Show which workloads a migration would move to a dedicated node, changing nothing",
		Long: `List, in migration order, the account's workloads that an upgrade's migration
would move to a dedicated node if it ran now, and what would be changed on
each (PodDisruptionBudget, node selector, toleration, relaxed spreading rules,
the spread over the account's dedicated nodes, rollout), and those nodes once
they exist; marked with "!", any workload that cannot move without a brief
interruption, and why (a StatefulSet of one replica with volumes). Workloads
already on a dedicated node are not listed. Then the pre-flight: what would
stop the move (an upgrade is refused before any charge), and the zone a
volume pins the dedicated nodes to. What the cluster cannot do for an upgrade
(Kubernetes before 1.36: keep workloads deployed after the move on the
dedicated node) is printed as a warning, on stderr with --json. It reads the
cluster named by --cluster (default sim, the simulated cluster in the
database; --cluster kube --kubeconfig FILE for Kubernetes) and changes nothing
in it; the upgrade workflow is not started.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStack(ctx, o)
			if err != nil {
				return err
			}
			defer st.Close(context.WithoutCancel(ctx))
			moves, err := st.App.AccountMigrationPlan(ctx, account)
			if err != nil {
				return err
			}
			warnings, err := st.App.ClusterWarnings(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				// The list stays the whole of stdout; warnings go beside it.
				printWarnings(o.stderr, warnings)
				enc := json.NewEncoder(o.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(moves)
			}
			printMigrationPlan(o.stdout, account, moves)
			pf, err := st.App.AccountPreflight(ctx, account)
			if err != nil {
				return err
			}
			printPreflight(o.stdout, pf)
			printWarnings(o.stdout, warnings)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "account ID (acct_…)")
	f.BoolVar(&asJSON, "json", false, "print the plan as JSON (a list of {workload, changes, nodes})")
	clusterFlags(f, o)
	_ = cmd.MarkFlagRequired("account")
	return cmd
}

func printMigrationPlan(w io.Writer, account string, moves []tierup.PlannedMove) {
	if len(moves) == 0 {
		fmt.Fprintf(w, "%s: nothing to move: no workload of the account runs on the shared pool.\n", account)
		return
	}
	to := "a dedicated node"
	switch nodes := moves[0].Nodes; len(nodes) {
	case 0: // not provisioned yet
	case 1:
		to = "the account's dedicated node " + nodes[0]
	default:
		to = fmt.Sprintf("the account's %d dedicated nodes (%s), spread over them", len(nodes), strings.Join(nodes, ", "))
	}
	fmt.Fprintf(w, "%s: %s would move to %s, in this order (dry run: nothing was changed).\n\n", account, plural(len(moves), "workload"), to)
	for i, m := range moves {
		fmt.Fprintf(w, "%d. %s %s (%s)\n", i+1, m.Workload.Kind, m.Workload.Name, plural(m.Workload.Replicas, "replica"))
		if m.Interruption != "" {
			fmt.Fprintf(w, "   ! not without interruption: %s\n", m.Interruption)
		}
		for _, c := range m.Changes {
			fmt.Fprintf(w, "   - %s\n", c)
		}
	}
}

// printPreflight says whether the moves can succeed, and where the nodes
// must be.
func printPreflight(w io.Writer, pf *tierup.Preflight) {
	if len(pf.Problems) == 0 {
		fmt.Fprintln(w, "\nPre-flight: the move can succeed.")
	} else {
		fmt.Fprintf(w, "\nPre-flight: %s stop the move, and an upgrade would be refused before any charge:\n", plural(len(pf.Problems), "problem"))
		for _, p := range pf.Problems {
			fmt.Fprintf(w, "   - %s (%s): %s\n", p.Workload, p.Code, p.Message)
		}
	}
	if pf.Zone != "" {
		fmt.Fprintf(w, "Dedicated nodes would be in zone %s, where a volume is pinned.\n", pf.Zone)
	}
}

func printWarnings(w io.Writer, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintf(w, "\nwarning: %s.\n", s)
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
