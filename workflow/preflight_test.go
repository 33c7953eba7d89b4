package workflow

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tierup/tierup"
)

// TestPreflightBeforePayment: right before charging, the move is checked
// again. An unreachable cluster pauses the upgrade with nothing charged and
// it goes on when the cluster is back; problems stop it, uncharged, with
// support and the user told why; a zone a volume pins is what the nodes
// are asked for.
func TestPreflightBeforePayment(t *testing.T) {
	problem := tierup.PreflightProblem{Workload: "Deployment/web", Code: tierup.PreflightHostPath, Message: "Deployment web mounts the host path /data."}
	tests := []struct {
		name      string
		preflight *tierup.Preflight
		errs      []error
		status    tierup.UpgradeStatus
		charges   int
		zone      string
		actions   []tierup.Action // that must appear, in order
	}{
		{"nothing in the way", nil, nil, tierup.UpgradeCompleted, 1, "", []tierup.Action{tierup.ActionStepSucceeded, tierup.ActionCompleted}},
		{"a volume pins a zone", tierup.PreflightPassed("zone-b"), nil, tierup.UpgradeCompleted, 1, "zone-b", nil},
		{"the cluster does not answer, then does", nil, []error{tierup.Errorf(tierup.CodeClusterUnreachable, "no API server")},
			tierup.UpgradeCompleted, 1, "", []tierup.Action{tierup.ActionPaused, tierup.ActionResumed, tierup.ActionCompleted}},
		{"the move cannot succeed", tierup.PreflightFailed([]tierup.PreflightProblem{problem}), nil, tierup.UpgradeNeedsSupport, 0, "",
			[]tierup.Action{tierup.ActionNeedsSupport}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.cluster.preflight, r.cluster.preflightErrs = tt.preflight, tt.errs
			r.create(t)
			if len(tt.errs) > 0 {
				r.runOne(t)
				if u := r.upgrade(t); u.Status != tierup.UpgradePaused || len(r.gateway.charges) != 0 {
					t.Fatalf("with the cluster down: upgrade %s, charges %v; want paused, none", u.Status, r.gateway.charges)
				}
			}
			r.drain(t, 50)
			u := r.upgrade(t)
			if u.Status != tt.status || len(r.gateway.charges) != tt.charges || u.Zone != tt.zone {
				t.Fatalf("upgrade %s, charges %v, zone %q; want %s, %d, %q", u.Status, r.gateway.charges, u.Zone, tt.status, tt.charges, tt.zone)
			}
			if tt.zone != "" && !slices.Contains(r.cluster.calls, "provision upg_1:node zone "+tt.zone) {
				t.Errorf("the node was not asked in %s: %v", tt.zone, r.cluster.calls)
			}
			acts := r.actions()
			at := 0
			for _, a := range tt.actions {
				i := slices.Index(acts[at:], a)
				if i < 0 {
					t.Fatalf("actions %v lack %s (in order %v)", acts, a, tt.actions)
				}
				at += i + 1
			}
			if tt.status == tierup.UpgradeNeedsSupport {
				st := u.Step(tierup.StepPayment)
				if st.Error == nil || st.Error.Code != string(tierup.CodeMigrationNotPossible) || !strings.Contains(st.Error.Message, "/data") {
					t.Errorf("payment step error %+v", st.Error)
				}
				n := r.store.st.notifications
				if len(n) == 0 || !strings.Contains(n[len(n)-1].Body, "before any charge") || !strings.Contains(n[len(n)-1].Body, "/data") {
					t.Errorf("the user was not told why: %+v", n)
				}
				if _, err := r.e.Cancel(context.Background(), "upg_1", "admin"); err != nil {
					t.Fatal(err)
				}
				r.drain(t, 50)
				if u := r.upgrade(t); u.Status != tierup.UpgradeCanceled || len(r.gateway.refunds) != 0 {
					t.Errorf("cancel after a refused pre-flight: %s, refunds %v", u.Status, r.gateway.refunds)
				}
			}
		})
	}
}
