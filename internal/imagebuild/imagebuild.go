// Package imagebuild assembles tierup's container image without a Docker
// daemon: a multi-platform OCI index with one image per platform, each a
// single layer on no base image (go-containerregistry's empty.Image), written
// as an OCI image layout. scripts/image.sh cross-compiles the binaries and
// runs cmd/tierup-image, which calls this package.
//
// The layer holds only what a static Go binary needs at run time:
//
//	/tierup                             the binary (0555, owned by root)
//	/etc/passwd, /etc/group             root and nonroot (65532), so the user has a name
//	/etc/ssl/certs/ca-certificates.crt  the CA bundle, for HTTPS to Stripe and SMTP over TLS
//	/data                               the working directory, owned by 65532
//
// There is no shell and no package manager.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// UID and GID run tierup: distroless's "nonroot", so volume permissions
	// prepared for other distroless images fit.
	UID = 65532
	GID = 65532
	// BinaryPath is the binary's path in the image and the entrypoint.
	BinaryPath = "/tierup"
	// WorkingDir is where the default --db (sqlite:tierup-data/tierup.db)
	// and the SQLite master secret file (tierup-data.key) land: the one
	// directory the image makes writable for UID. Mount a volume here to keep
	// them.
	WorkingDir = "/data"
	// CACertsPath is where Go's crypto/x509 looks first on Linux.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// Port is the port the image's TIERUP_ADDR listens on.
	Port = 8080
	// Source is the org.opencontainers.image.source label.
	Source = "https://github.com/tierup/tierup"
)

// OCI annotation keys, used as image labels and on the index.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelTitle    = "org.opencontainers.image.title"
	// refName names the index in the layout's index.json, which skopeo's
	// oci:DIR:REF and other layout readers select by.
	refName = "org.opencontainers.image.ref.name"
)

// Platform is one binary of the index.
type Platform struct {
	OS, Architecture string
	// Binary is the path of a static tierup binary built for this platform.
	Binary string
}

// Options say what goes into the image.
type Options struct {
	Platforms []Platform
	// CACerts is the CA bundle copied into the image, typically the build
	// host's /etc/ssl/certs/ca-certificates.crt.
	CACerts string
	// Version and Revision become labels; they should be what the binary's
	// --version says (cmd/tierup-image reads them from the binary).
	Version, Revision string
	// Created is the image's creation time and every file's modification
	// time. A fixed time (the commit's) makes the same commit give the same
	// digests.
	Created time.Time
}

// Labels are the OCI labels every image of the index carries.
func (o Options) Labels() map[string]string {
	return map[string]string{
		LabelSource:   Source,
		LabelVersion:  o.Version,
		LabelRevision: o.Revision,
		LabelCreated:  o.Created.UTC().Format(time.RFC3339),
		LabelTitle:    "tierup",
	}
}

// Build makes the multi-platform index, one image per platform.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Platforms) == 0 {
		return nil, errors.New("imagebuild: no platforms")
	}
	if o.Version == "" || o.Revision == "" || o.Created.IsZero() {
		return nil, errors.New("imagebuild: version, revision and creation time are required (they become the OCI labels)")
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: reading the CA bundle: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		img, err := platformImage(o, p, certs)
		if err != nil {
			return nil, fmt.Errorf("imagebuild: %s/%s: %w", p.OS, p.Architecture, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: p.OS, Architecture: p.Architecture},
			},
		})
	}
	annotated, ok := mutate.Annotations(idx, o.Labels()).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("imagebuild: annotating the index did not give an index")
	}
	return annotated, nil
}

func platformImage(o Options, p Platform, certs []byte) (v1.Image, error) {
	bin, err := os.ReadFile(p.Binary)
	if err != nil {
		return nil, fmt.Errorf("reading the binary: %w", err)
	}
	layerTar, err := rootfs(bin, certs, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "scripts/image.sh", Comment: "tierup " + o.Version},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Architecture
	cf.Created = v1.Time{Time: o.Created}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", UID, GID),
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"serve"},
		WorkingDir: WorkingDir,
		// Only non-secret settings: tierup listens on loopback by default,
		// which nothing outside the container reaches.
		Env:          []string{fmt.Sprintf("TIERUP_ADDR=:%d", Port)},
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		Volumes:      map[string]struct{}{WorkingDir: {}},
		Labels:       o.Labels(),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting the config: %w", err)
	}
	return img, nil
}

// rootfs is the layer's tar: every entry owned by root except the working
// directory, every time the creation time so equal inputs give equal digests.
func rootfs(bin, certs []byte, mtime time.Time) ([]byte, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", UID, GID, WorkingDir)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	type entry struct {
		name     string
		dir      bool
		mode     int64
		uid, gid int
		body     []byte
	}
	entries := []entry{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/ssl/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/", dir: true, mode: 0o755},
		{name: CACertsPath[1:], mode: 0o644, body: certs},
		{name: "tmp/", dir: true, mode: 0o1777},
		{name: WorkingDir[1:] + "/", dir: true, mode: 0o755, uid: UID, gid: GID},
		{name: BinaryPath[1:], mode: 0o555, body: bin},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: mtime, Format: tar.FormatPAX,
			Typeflag: tar.TypeReg, Size: int64(len(e.body)),
		}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing the layer: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteLayout writes idx as an OCI image layout in dir: index.json lists the
// one multi-platform index, named by ref (e.g. the version), so
// `crane push DIR REF` and `skopeo copy oci:DIR:REF …` take it whole. An
// earlier layout in dir is replaced; any other non-empty dir is refused
// rather than deleted.
func WriteLayout(dir, ref string, idx v1.ImageIndex) error {
	if err := clearLayout(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("imagebuild: starting the layout in %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{refName: ref})); err != nil {
		return fmt.Errorf("imagebuild: writing the index to %s: %w", dir, err)
	}
	return nil
}

func clearLayout(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("imagebuild: reading %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return fmt.Errorf("imagebuild: %s is not empty and holds no OCI layout; not overwriting it", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("imagebuild: removing the earlier layout %s: %w", dir, err)
	}
	return nil
}

// RefName is the layout's name for the index: the version, or "latest" when
// the binary has none (a plain `go build` outside a module version).
func RefName(version string) string {
	if version == "" || version == "(devel)" {
		return "latest"
	}
	return version
}
