package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/proctest"
)

// readmeSession is the README section whose shell blocks make one session.
const readmeSession = "### A curl session"

// readmeAddr is the address the README's session uses; the test serves on a
// free port instead, so that it never collides with a server a developer runs.
const readmeAddr = "127.0.0.1:8080"

// shellBlocks returns the ```sh blocks of the README section that starts at
// heading, up to the next second-level heading.
func shellBlocks(t *testing.T, readme, heading string) []string {
	t.Helper()
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	section := readme[i+1:]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)\n```sh\n(.*?)\n```\n").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) == 0 {
		t.Fatalf("README section %q has no sh blocks", heading)
	}
	return blocks
}

// expectedOutput returns the literal pieces a block's full-line comments
// promise in its output: each comment line, split where it elides with "…".
func expectedOutput(block string) []string {
	var want []string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "# ") {
			continue
		}
		for _, piece := range strings.Split(strings.TrimPrefix(line, "# "), "…") {
			if piece = strings.TrimSpace(piece); len(piece) >= 2 {
				want = append(want, piece)
			}
		}
	}
	return want
}

// TestREADMESession runs the README's curl session as written, block after
// block in one bash, against the binary built from this tree, and checks that
// every output the README shows appears in the block's output. Only two things
// differ from a reader's paste: `go build` copies the test's binary, and the
// session serves on a free port instead of 8080.
func TestREADMESession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README session needs %s: %v", tool, err)
			}
			t.Skipf("the README session needs %s", tool)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(t, string(readme), readmeSession)
	addr := proctest.FreeAddr(t)

	const marker = "@@ block "
	var script strings.Builder
	// As pasted into an interactive shell, but stopping at the first failing
	// command (a pipeline fails by its last command, as there).
	script.WriteString("set -eu\n")
	script.WriteString(`go() { if [ "$*" = "build -o tierup ./cmd/tierup" ]; then cp "$TIERUP_TEST_BIN" tierup; else echo "README test: unexpected go $*" >&2; return 1; fi; }` + "\n")
	for i, b := range blocks {
		if !strings.Contains(b, readmeAddr) && i == 0 {
			t.Fatalf("the session's first block no longer names %s: update readmeAddr", readmeAddr)
		}
		fmt.Fprintf(&script, "echo '%s%d'\n%s\n", marker, i, strings.ReplaceAll(b, readmeAddr, addr))
	}

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(environWithout("TIERUP_"), "TIERUP_TEST_BIN="+proctest.Build(t), "TIERUP_ADDR="+addr)
	// The session starts the server in the background; a failed run must
	// not leave it behind, so the whole process group goes at the end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "tierup-walk.log"))
		t.Fatalf("the README session failed: %v\n%s\nserver log:\n%s", err, out, log)
	}

	outputs := strings.Split(string(out), marker)[1:]
	if len(outputs) != len(blocks) {
		t.Fatalf("ran %d blocks of %d:\n%s", len(outputs), len(blocks), out)
	}
	for i, b := range blocks {
		got := outputs[i]
		for _, want := range expectedOutput(b) {
			if !strings.Contains(got, want) {
				t.Errorf("README block %d promises %q; it printed:\n%s", i, want, got)
			}
		}
	}
	if pdf, err := os.ReadFile(filepath.Join(dir, "TU-2026-000001.pdf")); err != nil || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Errorf("the session's receipt PDF: %v (%d bytes)", err, len(pdf))
	}
}

// environWithout is the test's environment minus the variables with prefix,
// so that a developer's settings do not leak into a reader's fresh session.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}
