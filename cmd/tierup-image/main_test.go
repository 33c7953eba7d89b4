package main

import (
	"testing"
	"time"

	"github.com/tierup/tierup/internal/imagebuild"
)

func TestPlatformFlag(t *testing.T) {
	var p platformFlags
	if err := p.Set("linux/arm64=bin/tierup"); err != nil || len(p) != 1 || p[0] != (imagebuild.Platform{OS: "linux", Architecture: "arm64", Binary: "bin/tierup"}) {
		t.Errorf("got %+v, %v", p, err)
	}
	for _, bad := range []string{"linux/arm64", "linux=bin", "/arm64=bin", "linux/arm64="} {
		if err := p.Set(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestCreationTime(t *testing.T) {
	commit := imagebuild.Stamp{Revision: "abc", Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if got, err := creationTime("", commit); err != nil || !got.Equal(commit.Time) {
		t.Errorf("default: %v, %v; want the commit time", got, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if got, err := creationTime("", commit); err != nil || got.Unix() != 1700000000 {
		t.Errorf("SOURCE_DATE_EPOCH: %v, %v", got, err)
	}
	if got, err := creationTime("2026-01-02T03:04:05Z", commit); err != nil || got.Format(time.RFC3339) != "2026-01-02T03:04:05Z" {
		t.Errorf("--created: %v, %v", got, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if _, err := creationTime("", imagebuild.Stamp{Revision: "abc"}); err == nil {
		t.Error("no time at all was accepted")
	}
}

func TestRunNeedsOutAndPlatform(t *testing.T) {
	if err := run([]string{"--out", t.TempDir()}, nil); err == nil {
		t.Error("run without --platform succeeded")
	}
}
