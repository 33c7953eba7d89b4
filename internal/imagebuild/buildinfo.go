package imagebuild

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"time"
)

// Stamp is what a binary's build information says about its source: the
// image's labels are taken from it so they cannot disagree with --version.
type Stamp struct {
	Version  string
	Revision string
	Time     time.Time
	Modified bool
}

// ReadStamp reads the module version and VCS stamp of a Go binary built for
// any platform (it does not run it).
func ReadStamp(path string) (Stamp, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return Stamp{}, fmt.Errorf("imagebuild: reading the build information of %s: %w", path, err)
	}
	s := Stamp{Version: bi.Main.Version}
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			s.Revision = kv.Value
		case "vcs.time":
			if s.Time, err = time.Parse(time.RFC3339, kv.Value); err != nil {
				return Stamp{}, fmt.Errorf("imagebuild: %s: vcs.time %q: %w", path, kv.Value, err)
			}
		case "vcs.modified":
			s.Modified = kv.Value == "true"
		}
	}
	if s.Revision == "" {
		return Stamp{}, errors.New("imagebuild: " + path + " has no vcs.revision: build it with -buildvcs=true from a git checkout whose .git is a directory (scripts/image.sh does)")
	}
	return s, nil
}
