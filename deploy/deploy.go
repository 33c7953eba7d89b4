// Package deploy holds the manifests tierup ships — the RBAC, the alert
// rules, the Grafana dashboard and the Helm chart (helm/tierup) — and embeds
// rbac.yaml, so that the binary checks a cluster against the very file
// operators apply and the chart renders.
package deploy

import "embed"

// The Helm chart (helm/tierup) can read only files inside its own
// directory, so it carries copies of the manifests it renders: the
// ClusterRole's rules, the alert rules and the Grafana dashboard. The files
// here are the sources; a test fails when a copy differs.
//go:generate cp rbac.yaml prometheus/alerts.yaml grafana/tierup.json helm/tierup/files/

//go:embed rbac.yaml
var files embed.FS

// RBAC returns deploy/rbac.yaml: the ServiceAccount and the ClusterRole
// tierup needs with --cluster kube.
func RBAC() []byte {
	b, err := files.ReadFile("rbac.yaml")
	if err != nil {
		panic("deploy: rbac.yaml is not embedded: " + err.Error()) // a build error, not a runtime one
	}
	return b
}
