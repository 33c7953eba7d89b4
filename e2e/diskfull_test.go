package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tierup/tierup/stack"
)

// smallDisk mounts a 4 MiB tmpfs for the test, the nearest thing to a
// full disk a test can make: it needs root (CI runs as root). Without it
// the test is skipped outside CI and fails in CI.
func smallDisk(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("a full disk needs a small filesystem, and mounting a tmpfs failed (root is needed): %v %s", err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file until the filesystem has no room left.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

// TestSQLiteDiskFull runs tierup's SQLite database on a filesystem that
// fills up: writes are refused with 503 database_unavailable saying the
// disk is full (and the log says so), reads go on, nothing is corrupted,
// and once space returns the same requests succeed and an upgrade runs
// through.
func TestSQLiteDiskFull(t *testing.T) {
	dir := smallDisk(t)
	h := start(t, "sqlite:"+filepath.Join(dir, "tierup.db"), func(o *stack.Options) { o.Sim.Capacity = 10 })
	_, token := hobby(h, "before@example.com")

	filler := fill(t, dir)
	var refused bool
	for i := range 200 { // until the free pages SQLite holds run out too
		r, err := h.Try("POST", "/v1/accounts", admin, map[string]any{"email": fmt.Sprintf("full%d@example.com", i), "name": strings.Repeat("x", 190)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == http.StatusServiceUnavailable {
			if r.Str("code") != "database_unavailable" || !strings.Contains(r.Str("detail"), "disk is full") && !strings.Contains(r.Str("detail"), "could not read or write") {
				t.Errorf("refused write: %s", r.Raw)
			}
			refused = true
			break
		}
		h.Expect(r, 201, "")
	}
	if !refused {
		t.Fatal("200 new accounts fitted on a full disk")
	}
	if !strings.Contains(h.log.String(), "the database is unavailable") {
		t.Error("the log does not say what failed")
	}
	// Reads do not need room.
	h.Expect(h.Do("GET", "/v1/account", token, nil), 200, "")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	_, token2 := hobby(h, "after@example.com")
	id := h.upgrade(token2, "pro-1m", h.card(token2, "4242 4242 4242 4242"))
	h.waitStatus(token2, id, "completed")
	var check string
	if err := h.st.Store.SQLDB().QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q %v", check, err)
	}
}
