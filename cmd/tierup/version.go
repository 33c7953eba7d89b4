package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionString says which build this is: the main module's version and, when
// the binary was built from a checkout with VCS stamping (scripts/image.sh
// passes -buildvcs=true), the commit, its time and whether the work tree had
// uncommitted changes. An operator can then match a running container to a
// commit without trusting the image's tag.
func versionString(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "tierup (no build information)"
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var revision, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		return "tierup " + version
	}
	details := []string{"revision " + revision}
	if when != "" {
		details = append(details, when)
	}
	if modified {
		details = append(details, "modified")
	}
	return fmt.Sprintf("tierup %s (%s)", version, strings.Join(details, ", "))
}

// buildVersion is versionString of the running binary.
func buildVersion() string {
	return versionString(debug.ReadBuildInfo())
}

func newVersionCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit this binary was built from (same as --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(o.stdout, buildVersion())
			return err
		},
	}
}
