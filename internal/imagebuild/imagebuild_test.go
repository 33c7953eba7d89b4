package imagebuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerFile is one entry of an image's layer, as read back.
type layerFile struct {
	hdr  tar.Header
	body []byte
}

// openLayout reads the one index a layout written by WriteLayout lists, and
// its images by platform ("linux/amd64").
func openLayout(t *testing.T, dir string) (v1.ImageIndex, string, map[string]v1.Image) {
	t.Helper()
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("opening the layout: %v", err)
	}
	rm, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Manifests) != 1 || rm.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json should list one OCI index, lists %+v", rm.Manifests)
	}
	ref := rm.Manifests[0].Annotations[refName]
	idx, err := root.ImageIndex(rm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Image{}
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		images[d.Platform.OS+"/"+d.Platform.Architecture] = img
	}
	return idx, ref, images
}

// checkImage checks what every platform's image must be, and returns its
// layer's files by path.
func checkImage(t *testing.T, platform string, img v1.Image, labels map[string]string) map[string]layerFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.OS + "/" + cf.Architecture; got != platform {
		t.Errorf("%s: config says platform %s", platform, got)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("%s: user %q, want 65532:65532", platform, c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/tierup"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("%s: entrypoint %q cmd %q", platform, c.Entrypoint, c.Cmd)
	}
	if c.WorkingDir != WorkingDir {
		t.Errorf("%s: working dir %q", platform, c.WorkingDir)
	}
	for _, e := range c.Env {
		if !strings.HasPrefix(e, "TIERUP_ADDR=") {
			t.Errorf("%s: unexpected environment %q (the image sets no secrets, only the address)", platform, e)
		}
	}
	for k, v := range labels {
		if c.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", platform, k, c.Labels[k], v)
		}
	}
	if m, err := img.MediaType(); err != nil || m != types.OCIManifestSchema1 {
		t.Errorf("%s: manifest media type %s (%v)", platform, m, err)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s: %d layers (%v), want one on no base", platform, len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]layerFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: reading the layer: %v", platform, err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = layerFile{hdr: *h, body: body}
	}
	bin, ok := files[BinaryPath]
	if !ok || bin.hdr.Typeflag != tar.TypeReg || len(bin.body) == 0 {
		t.Fatalf("%s: no binary at %s in %v", platform, BinaryPath, keys(files))
	}
	if bin.hdr.Mode&0o001 == 0 {
		t.Errorf("%s: %s mode %o is not executable by user 65532", platform, BinaryPath, bin.hdr.Mode)
	}
	if d := files[WorkingDir]; d.hdr.Typeflag != tar.TypeDir || d.hdr.Uid != UID || d.hdr.Gid != GID {
		t.Errorf("%s: %s is not a directory owned by 65532: %+v", platform, WorkingDir, d.hdr)
	}
	if p := string(files["/etc/passwd"].body); !strings.Contains(p, "nonroot:x:65532:65532:") {
		t.Errorf("%s: /etc/passwd lacks the nonroot user:\n%s", platform, p)
	}
	if len(files[CACertsPath].body) == 0 {
		t.Errorf("%s: no CA bundle at %s", platform, CACertsPath)
	}
	for _, sh := range []string{"/bin/sh", "/bin", "/usr/bin"} {
		if _, ok := files[sh]; ok {
			t.Errorf("%s: the image has %s", platform, sh)
		}
	}
	return files
}

func keys(m map[string]layerFile) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestBuild builds from stand-in binaries (Build does not look inside them),
// so the image's shape is checked in milliseconds.
func TestBuild(t *testing.T) {
	dir := t.TempDir()
	certs := filepath.Join(dir, "ca.crt")
	amd, arm := filepath.Join(dir, "amd64"), filepath.Join(dir, "arm64")
	for path, body := range map[string]string{certs: "-----BEGIN CERTIFICATE-----\n", amd: "amd64 binary", arm: "arm64 binary"} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{
		Platforms: []Platform{{"linux", "amd64", amd}, {"linux", "arm64", arm}},
		CACerts:   certs,
		Version:   "v1.2.3",
		Revision:  "0123456789abcdef",
		Created:   time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
	}
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image")
	if err := WriteLayout(out, RefName(o.Version), idx); err != nil {
		t.Fatal(err)
	}
	read, ref, images := openLayout(t, out)
	if ref != "v1.2.3" {
		t.Errorf("ref name %q", ref)
	}
	if len(images) != 2 || images["linux/amd64"] == nil || images["linux/arm64"] == nil {
		t.Fatalf("platforms %v", images)
	}
	labels := map[string]string{
		LabelSource: Source, LabelVersion: "v1.2.3", LabelRevision: "0123456789abcdef", LabelCreated: "2026-12-01T12:00:00Z",
	}
	for platform, img := range images {
		files := checkImage(t, platform, img, labels)
		if want := platform[len("linux/"):] + " binary"; string(files[BinaryPath].body) != want {
			t.Errorf("%s: binary %q, want %q", platform, files[BinaryPath].body, want)
		}
		if !files[BinaryPath].hdr.ModTime.Equal(o.Created) {
			t.Errorf("%s: binary mtime %v, want the creation time", platform, files[BinaryPath].hdr.ModTime)
		}
	}

	// The same inputs give the same digest: a commit has one image.
	again, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := read.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("rebuilding gave %s, then %s", d1, d2)
	}

	// A second write replaces the layout; a directory that is not one is left alone.
	if err := WriteLayout(out, "v1.2.3", idx); err != nil {
		t.Errorf("rewriting the layout: %v", err)
	}
	if err := WriteLayout(dir, "v1.2.3", idx); err == nil {
		t.Error("WriteLayout overwrote a directory holding no layout")
	}
}

func TestBuildRefusesMissingLabels(t *testing.T) {
	if _, err := Build(Options{Platforms: []Platform{{"linux", "amd64", "x"}}, CACerts: "x"}); err == nil {
		t.Error("Build accepted no version, revision or creation time")
	}
}

// TestImageScript runs scripts/image.sh as a user would: two cross-compiled
// binaries (a minute or two on a cold build cache), then the layout read back
// and the amd64 binary taken out of its layer and run.
func TestImageScript(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles tierup twice")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git: the image is labelled with the commit")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	head, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	revision := strings.TrimSpace(string(head))

	out := filepath.Join(t.TempDir(), "image")
	cmd := exec.Command(filepath.Join(repo, "scripts", "image.sh"), out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, log.String())
	}

	_, _, images := openLayout(t, out)
	if len(images) != 2 || images["linux/amd64"] == nil || images["linux/arm64"] == nil {
		t.Fatalf("platforms %v, want linux/amd64 and linux/arm64", images)
	}
	labels := map[string]string{LabelSource: Source, LabelRevision: revision}
	var amd64Binary []byte
	for platform, img := range images {
		files := checkImage(t, platform, img, labels)
		cf, _ := img.ConfigFile()
		if cf.Config.Labels[LabelVersion] == "" || cf.Config.Labels[LabelCreated] == "" {
			t.Errorf("%s: no version or created label: %v", platform, cf.Config.Labels)
		}
		if platform == "linux/amd64" {
			amd64Binary = files[BinaryPath].body
		}
	}

	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the amd64 binary cannot run on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	bin := filepath.Join(t.TempDir(), "tierup")
	if err := os.WriteFile(bin, amd64Binary, 0o755); err != nil {
		t.Fatal(err)
	}
	version, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("tierup --version: %v\n%s", err, version)
	}
	if !strings.Contains(string(version), "revision "+revision) {
		t.Errorf("tierup --version says %q, want revision %s", version, revision)
	}
}
