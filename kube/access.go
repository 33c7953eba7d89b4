package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// Access is one permission tierup needs: a verb on a resource of an API
// group ("" is the core group).
type Access struct {
	Group, Resource, Verb string
}

func (a Access) String() string {
	g := a.Group
	if g == "" {
		g = "core"
	}
	return a.Verb + " " + g + "/" + a.Resource
}

// RequiredAccess lists every (group, resource, verb) the ClusterRoles of an
// RBAC manifest (deploy/rbac.yaml) grant, in the manifest's order: the one
// source of truth for what tierup needs, so that `tierup doctor` checks
// exactly what operators apply.
func RequiredAccess(manifest []byte) ([]Access, error) {
	var out []Access
	for i, doc := range strings.Split(string(manifest), "\n---") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("RBAC manifest, document %d: %w", i+1, err)
		}
		var meta metav1.TypeMeta
		if err := json.Unmarshal(js, &meta); err != nil || meta.Kind != "ClusterRole" {
			continue
		}
		var role rbacv1.ClusterRole
		if err := json.Unmarshal(js, &role); err != nil {
			return nil, fmt.Errorf("RBAC manifest, ClusterRole: %w", err)
		}
		for _, r := range role.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out = append(out, Access{Group: g, Resource: res, Verb: v})
					}
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("RBAC manifest: no ClusterRole rules")
	}
	return out, nil
}

// MissingAccess asks the API server, with a SelfSubjectAccessReview per
// permission, which of need the client's identity lacks, cluster-wide (as
// the ClusterRole grants them).
func MissingAccess(ctx context.Context, kc kubernetes.Interface, need []Access) ([]Access, error) {
	var missing []Access
	for _, a := range need {
		r, err := kc.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group: a.Group, Resource: a.Resource, Verb: a.Verb}},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("kube: access review of %s: %w", a, err)
		}
		if !r.Status.Allowed {
			missing = append(missing, a)
		}
	}
	return missing, nil
}
