package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tierup/tierup/deploy"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/internal/smtptest"
	"github.com/tierup/tierup/internal/stripemock"
	"github.com/tierup/tierup/kube"
)

// doctorLine returns doctor's line for the check name.
func doctorLine(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, name+"  ") {
			return l
		}
	}
	return ""
}

func wantLine(t *testing.T, out, name, verdict string, says ...string) {
	t.Helper()
	l := doctorLine(out, name)
	fields := strings.Fields(strings.TrimPrefix(l, name))
	if len(fields) == 0 || fields[0] != verdict {
		t.Errorf("doctor's %s line is %q, want %s:\n%s", name, l, verdict, out)
		return
	}
	for _, s := range says {
		if !strings.Contains(l, s) {
			t.Errorf("doctor's %s line lacks %q: %q", name, s, l)
		}
	}
}

func TestDoctorAllOK(t *testing.T) {
	t.Setenv("TIERUP_SECRET_KEY", dbtest.SecretKey)
	dbtest.Each(t, func(t *testing.T, dsn string) {
		mustRun(t, "migrate", "--db", dsn)
		mail := smtptest.Start(t)
		out, stderr, code := runCmd(t, "doctor", "--db", dsn, "--smtp-addr", mail.Addr())
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, stderr)
		}
		wantLine(t, out, "database", "ok", "migrations current")
		wantLine(t, out, "master secret", "ok", "TIERUP_SECRET_KEY")
		wantLine(t, out, "payment gateway", "ok", "sandbox, test cards only")
		wantLine(t, out, "smtp", "ok", mail.Addr())
		wantLine(t, out, "cluster", "ok", "sim")
		if len(mail.Messages()) != 0 {
			t.Error("doctor sent an email")
		}
	})
}

func TestDoctorFailures(t *testing.T) {
	t.Setenv("TIERUP_SECRET_KEY", "")
	t.Run("unmigrated database, unreachable SMTP", func(t *testing.T) {
		db := dbtest.SQLite(t)
		out, stderr, code := runCmd(t, "doctor", "--db", db, "--smtp-addr", "127.0.0.1:1")
		if code == 0 || !strings.Contains(stderr, "2 of 5 checks failed") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		wantLine(t, out, "database", "FAIL", "tierup migrate")
		wantLine(t, out, "smtp", "FAIL", "127.0.0.1:1", "--smtp-addr")
		wantLine(t, out, "master secret", "ok", "first start makes")
	})
	t.Run("postgres without a secret", func(t *testing.T) {
		dsn := dbtest.Postgres(t)
		mustRun(t, "migrate", "--db", dsn, "--secret-key-file", writeKey(t))
		out, _, code := runCmd(t, "doctor", "--db", dsn)
		if code == 0 {
			t.Error("exit 0")
		}
		wantLine(t, out, "database", "ok")
		wantLine(t, out, "master secret", "FAIL", "--secret-key-file")
	})
	t.Run("stripe", func(t *testing.T) {
		base := stripemock.Start(t)
		db := dbtest.SQLite(t)
		mustRun(t, "migrate", "--db", db)
		args := []string{"doctor", "--db", db, "--payment-gateway", "stripe", "--stripe-api-base", base}
		out, stderr, code := runCmd(t, append(args, "--stripe-secret-key", "sk_test_123")...)
		if code != 0 {
			t.Errorf("a good key: exit %d\n%s%s", code, out, stderr)
		}
		wantLine(t, out, "payment gateway", "ok", "stripe, key accepted, test mode")
		// stripe-mock takes any sk_test_ key and refuses the rest, as
		// Stripe refuses a wrong one.
		out, stderr, code = runCmd(t, append(args, "--stripe-secret-key", "sk_live_wrong")...)
		if code == 0 || !strings.Contains(stderr, "1 of 5 checks failed") {
			t.Errorf("a bad key: exit %d, stderr %q", code, stderr)
		}
		wantLine(t, out, "payment gateway", "FAIL", "stripe refused", "--stripe-secret-key")
	})
}

func writeKey(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tierup.key")
	if err := os.WriteFile(path, []byte(dbtest.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDoctorKubeRBAC checks the cluster as the ServiceAccount of
// deploy/rbac.yaml (every permission granted) and as one without the role
// (every permission reported missing).
func TestDoctorKubeRBAC(t *testing.T) {
	rc := kubetest.Config(t)
	db := dbtest.SQLite(t)
	t.Setenv("TIERUP_SECRET_KEY", dbtest.SecretKey)
	mustRun(t, "migrate", "--db", db)
	args := []string{"doctor", "--db", db, "--cluster", "kube", "--kubeconfig"}

	sa := kubetest.ServiceAccountConfig(t, rc, "../../deploy/rbac.yaml")
	out, stderr, code := runCmd(t, append(args, kubeconfigFor(t, sa))...)
	if code != 0 {
		t.Errorf("as tierup's ServiceAccount: exit %d\n%s%s", code, out, stderr)
	}
	wantLine(t, out, "cluster", "ok", "reachable, Kubernetes v")
	wantLine(t, out, "cluster rbac", "ok", "permissions of deploy/rbac.yaml granted")

	out, stderr, code = runCmd(t, append(args, kubeconfigFor(t, roleless(t, rc)))...)
	if code == 0 || !strings.Contains(stderr, "1 of 6 checks failed") {
		t.Errorf("without the role: exit %d, stderr %q", code, stderr)
	}
	wantLine(t, out, "cluster", "ok")
	wantLine(t, out, "cluster rbac", "FAIL", "create core/nodes", "delete apps/deployments", "get velero.io/schedules", "apply deploy/rbac.yaml")
}

// roleless returns a client configuration acting as a ServiceAccount bound
// to no role.
func roleless(t *testing.T, rc *rest.Config) *rest.Config {
	t.Helper()
	ctx := context.Background()
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	const ns, name = "default", "tierup-doctor-roleless"
	_, err = kc.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	exp := int64(3600)
	tok, err := kc.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := rest.AnonymousClientConfig(rc)
	c.BearerToken = tok.Status.Token
	return c
}

// kubeconfigFor writes a kubeconfig file for a token-authenticated client
// configuration, as --kubeconfig takes it.
func kubeconfigFor(t *testing.T, rc *rest.Config) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthority: rc.CAFile,
		CertificateAuthorityData: rc.CAData, InsecureSkipTLSVerify: rc.Insecure}
	cfg.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: rc.BearerToken}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	cfg.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRequiredAccessFromManifest: the list doctor checks is the embedded
// deploy/rbac.yaml's, rule by rule.
func TestRequiredAccessFromManifest(t *testing.T) {
	need, err := kube.RequiredAccess(deploy.RBAC())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []kube.Access{{Group: "", Resource: "nodes", Verb: "create"}, {Group: "apps", Resource: "statefulsets", Verb: "watch"},
		{Group: "admissionregistration.k8s.io", Resource: "mutatingadmissionpolicybindings", Verb: "delete"}} {
		if !slices.Contains(need, want) {
			t.Errorf("%v is not in the manifest's list %v", want, need)
		}
	}
	if slices.Contains(need, kube.Access{Group: "", Resource: "secrets", Verb: "get"}) {
		t.Error("the list holds a permission the manifest does not grant")
	}
	if _, err := kube.RequiredAccess([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")); err == nil {
		t.Error("a manifest without a ClusterRole was taken")
	}
}
