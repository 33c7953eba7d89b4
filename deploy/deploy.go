// Package deploy holds the manifests tierup ships, embedded so that the
// binary checks a cluster against the very file operators apply.
package deploy

import "embed"

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
