// Command tierup-image writes tierup's multi-platform container image as an
// OCI image layout, from binaries already cross-compiled. It needs no Docker
// daemon and pushes nowhere; scripts/image.sh builds the binaries and runs it.
//
//	tierup-image --out build/image \
//	    --platform linux/amd64=build/linux-amd64/tierup \
//	    --platform linux/arm64=build/linux-arm64/tierup
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tierup/tierup/internal/imagebuild"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tierup-image:", err)
		os.Exit(1)
	}
}

// platformFlags collects repeated --platform OS/ARCH=BINARY values.
type platformFlags []imagebuild.Platform

func (p *platformFlags) String() string { return fmt.Sprint(*p) }

func (p *platformFlags) Set(v string) error {
	plat, bin, ok := strings.Cut(v, "=")
	osName, arch, ok2 := strings.Cut(plat, "/")
	if !ok || !ok2 || bin == "" || osName == "" || arch == "" {
		return fmt.Errorf("%q is not OS/ARCH=BINARY", v)
	}
	*p = append(*p, imagebuild.Platform{OS: osName, Architecture: arch, Binary: bin})
	return nil
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("tierup-image", flag.ContinueOnError)
	var platforms platformFlags
	out := fs.String("out", "", "directory to write the OCI image layout to (an earlier layout there is replaced)")
	caCerts := fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the image")
	created := fs.String("created", "", "creation time, RFC 3339 (default: $SOURCE_DATE_EPOCH, else the commit time of the binaries)")
	fs.Var(&platforms, "platform", "OS/ARCH=BINARY, once per platform")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || len(platforms) == 0 {
		return fmt.Errorf("--out and at least one --platform are required")
	}
	// Every binary must come from the same source, or the labels would lie
	// about some of them.
	stamp, err := imagebuild.ReadStamp(platforms[0].Binary)
	if err != nil {
		return err
	}
	for _, p := range platforms[1:] {
		s, err := imagebuild.ReadStamp(p.Binary)
		if err != nil {
			return err
		}
		if s != stamp {
			return fmt.Errorf("%s was built from %+v but %s from %+v", platforms[0].Binary, stamp, p.Binary, s)
		}
	}
	when, err := creationTime(*created, stamp)
	if err != nil {
		return err
	}
	idx, err := imagebuild.Build(imagebuild.Options{
		Platforms: platforms,
		CACerts:   *caCerts,
		Version:   stamp.Version,
		Revision:  stamp.Revision,
		Created:   when,
	})
	if err != nil {
		return err
	}
	ref := imagebuild.RefName(stamp.Version)
	if err := imagebuild.WriteLayout(*out, ref, idx); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("digest of the index: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: index %s (%s, revision %s), ref %s\n", *out, digest, stamp.Version, stamp.Revision, ref)
	return nil
}

// creationTime prefers an explicit time, then SOURCE_DATE_EPOCH (the
// reproducible-builds convention), then the commit's time, so rebuilding a
// commit gives the same digests.
func creationTime(flagValue string, s imagebuild.Stamp) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("--created %q: %w", flagValue, err)
		}
		return t.UTC(), nil
	}
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", v, err)
		}
		return time.Unix(secs, 0).UTC(), nil
	}
	if s.Time.IsZero() {
		return time.Time{}, fmt.Errorf("the binaries carry no vcs.time; give --created")
	}
	return s.Time.UTC(), nil
}
