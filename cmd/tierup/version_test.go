package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/tierup/tierup", Version: "v0.0.0-20261201120000-abc123def456+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "abc123def4567890"},
			{Key: "vcs.time", Value: "2026-12-01T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"stamped", bi, true, "tierup v0.0.0-20261201120000-abc123def456+dirty (revision abc123def4567890, 2026-12-01T12:00:00Z, modified)"},
		{"clean", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}, true, "tierup v1.2.3 (revision abc)"},
		{"no vcs", &debug.BuildInfo{}, true, "tierup (devel)"},
		{"no build info", nil, false, "tierup (no build information)"},
	}
	for _, tt := range tests {
		if got := versionString(tt.bi, tt.ok); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestVersionCommandAndFlag(t *testing.T) {
	want := buildVersion() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, stderr, code := runCmd(t, args...)
		if code != 0 || out != want {
			t.Errorf("%v: exit %d, stdout %q (want %q), stderr %q", args, code, out, want, stderr)
		}
		if !strings.HasPrefix(out, "tierup ") {
			t.Errorf("%v: %q does not name the binary", args, out)
		}
	}
}
