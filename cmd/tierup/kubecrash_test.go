package main

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/internal/proctest"
)

// TestKubeCrashMidMove kills tierup with SIGKILL while a Deployment rolls
// to the dedicated node on the test control plane, and starts it again:
// the move resumes from what tierup wrote on the workload, the upgrade
// completes with one node, and — watched from outside — no workload ever
// had fewer available replicas than it wants.
func TestKubeCrashMidMove(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary twice")
	}
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	kubetest.EnsureSharedNodes(t, kc)
	bin := proctest.Build(t)
	db := dbtest.SQLite(t)
	flags := []string{"--cluster", "kube", "--kubeconfig", kubeconfig, "--kube-backups", "cronjob"}
	p := launch(t, bin, db, flags...)
	c := apitest.Client{T: t, BaseURL: p.Base}
	acctID, token := newAccount(c, "kube-crash@example.com")
	ns := kubetest.Namespace(t, kc, acctID)
	kubetest.Workloads(t, kc, ns)
	stopWatching := kubetest.WatchAvailability(t, kc, ns)

	id := startUpgrade(c, token)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		d, err := kc.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err == nil && d.Annotations["tierup.dev/original"] != "" {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatal("web's move never started")
	}
	p.Kill()

	p2 := launch(t, bin, db, flags...)
	c.BaseURL = p2.Base
	u := poll(t, c, token, id, "completed", func(r apitest.Response) bool { return r.Str("status") == "completed" })
	nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acctID})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		name := n.Name
		t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	if len(nodes.Items) != 1 || nodes.Items[0].Name != u.Str("node.name") {
		t.Errorf("account's nodes: %d, want only %s", len(nodes.Items), u.Str("node.name"))
	}
	var moved []string
	for _, w := range u.List("workloads") {
		moved = append(moved, apitest.Dig(w, "name").(string))
		if apitest.Dig(w, "state") != "migrated" || apitest.Dig(w, "node") != u.Str("node.name") {
			t.Errorf("workload %v", w)
		}
	}
	if want := []string{"api", "web", "worker", "thumbnailer", "db", "cleanup", "nightly-report"}; !slices.Equal(moved, want) {
		t.Errorf("moved %v, want %v", moved, want)
	}
	seen := stopWatching()
	for name, want := range map[string]int32{"api": 2, "web": 2, "worker": 1, "thumbnailer": 1, "db": 2} {
		if got, ok := seen[name]; !ok || got < want {
			t.Errorf("%s: %d available at the lowest across the crash (seen: %v), want at least %d", name, got, ok, want)
		}
	}
	p2.Kill()
}
