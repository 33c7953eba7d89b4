// Package pdftext reads the text of a PDF for tests, with poppler's
// pdftotext: an extractor written apart from the library that made the
// PDF, so a test sees what a reader's viewer would, encoding included.
package pdftext

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// Extract returns pdf's text, in reading order with the layout kept. The
// test is skipped when pdftotext is not installed, and fails instead in CI
// or with TIERUP_TEST_REQUIRE_PDFTOTEXT set (scripts/test.sh installs it).
func Extract(t testing.TB, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("TIERUP_TEST_REQUIRE_PDFTOTEXT") != "" {
			t.Fatal("pdftotext is required to read the receipts' PDFs: apt-get install poppler-utils")
		}
		t.Skip("pdftotext not installed (apt-get install poppler-utils)")
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.40q", pdf)
	}
	cmd := exec.Command(bin, "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, stderr.String())
	}
	return string(out)
}
