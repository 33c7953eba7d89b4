package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

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
rollout). Workloads already on a dedicated node are not listed. What the
cluster cannot do for an upgrade (Kubernetes before 1.36: keep workloads
deployed after the move on the dedicated node) is printed as a warning, on
stderr with --json. It reads the
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
			printWarnings(o.stdout, warnings)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&account, "account", "", "account ID (acct_…)")
	f.BoolVar(&asJSON, "json", false, "print the plan as JSON (a list of {workload, changes})")
	clusterFlags(f, o)
	_ = cmd.MarkFlagRequired("account")
	return cmd
}

func printMigrationPlan(w io.Writer, account string, moves []tierup.PlannedMove) {
	if len(moves) == 0 {
		fmt.Fprintf(w, "%s: nothing to move: no workload of the account runs on the shared pool.\n", account)
		return
	}
	fmt.Fprintf(w, "%s: %s would move to a dedicated node, in this order (dry run: nothing was changed).\n\n", account, plural(len(moves), "workload"))
	for i, m := range moves {
		fmt.Fprintf(w, "%d. %s %s (%s)\n", i+1, m.Workload.Kind, m.Workload.Name, plural(m.Workload.Replicas, "replica"))
		for _, c := range m.Changes {
			fmt.Fprintf(w, "   - %s\n", c)
		}
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
