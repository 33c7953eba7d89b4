// Package testbin finds a command-line tool a test runs (stripe-mock,
// helm): through its environment variable, then PATH, then where
// `go install` puts binaries ($(go env GOBIN), else $(go env GOPATH)/bin).
// Without it the test is skipped, unless CI or the tool's
// TIERUP_TEST_REQUIRE_* variable is set: then it fails, because a silently
// skipped test would hide the mistakes it is there to catch.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Tool names a binary and how a test finds it.
type Tool struct {
	Name    string // the executable's name, e.g. "helm"
	Env     string // the variable naming its path, e.g. "HELM_BIN"
	Require string // the variable that makes its absence a failure, e.g. "TIERUP_TEST_REQUIRE_HELM"
	Hint    string // how to install it, e.g. "go install helm.sh/helm/v4/cmd/helm@v4.3.1"
}

// Find returns the tool's path, or skips or fails t.
func Find(t testing.TB, tool Tool) string {
	t.Helper()
	if p := os.Getenv(tool.Env); p != "" {
		// Set on purpose, so a wrong path is an error, not a skip.
		if !isExecutable(p) {
			t.Fatalf("%s=%s is not an executable file", tool.Env, p)
		}
		return p
	}
	if p, err := exec.LookPath(tool.Name); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, tool.Name)
		if isExecutable(p) {
			return p
		}
	}
	msg := tool.Name + " not found (looked at $" + tool.Env + ", $PATH, $(go env GOBIN) and $(go env GOPATH)/bin); install it with: " + tool.Hint
	if os.Getenv("CI") != "" || os.Getenv(tool.Require) != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// goBinDirs returns where `go install` puts binaries: GOBIN, else the bin
// directory of each GOPATH entry.
func goBinDirs() []string {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		home, herr := os.UserHomeDir()
		if herr != nil {
			return nil
		}
		return []string{filepath.Join(home, "go", "bin")}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var dirs []string
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		dirs = append(dirs, strings.TrimSpace(lines[0]))
	}
	if len(lines) > 1 {
		for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
			if p != "" {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	return dirs
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
