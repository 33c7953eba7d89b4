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
rollout), and, marked with "!", any workload that cannot move without a brief
interruption, and why (a StatefulSet of one replica with volumes). Workloads already on a dedicated node are not listed. It reads the
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
			if asJSON {
				enc := json.NewEncoder(o.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(moves)
			}
			printMigrationPlan(o.stdout, account, moves)
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
		if m.Interruption != "" {
			fmt.Fprintf(w, "   ! not without interruption: %s\n", m.Interruption)
		}
		for _, c := range m.Changes {
			fmt.Fprintf(w, "   - %s\n", c)
		}
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
