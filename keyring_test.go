package tierup_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tierup/tierup"
)

func TestParseKeyring(t *testing.T) {
	a, b := tierup.NewSecret(), tierup.NewSecret()
	tests := []struct {
		name, text, err string
	}{
		{"one secret", a + "\n", ""},
		{"rotation, with comments", "# current\n" + b + "\n\n# before\n" + a + "\n", ""},
		{"empty", "# nothing\n", "no master secret"},
		{"not hex", "not a secret\n", "line 1 is not a hex-encoded secret"},
		{"too short", "00ff\n", "at least 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tierup.ParseKeyring(tt.text)
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "not a secret") {
				t.Error("the error repeats the file's content")
			}
		})
	}
}

func TestKeyringKeys(t *testing.T) {
	old, cur := tierup.NewSecret(), tierup.NewSecret()
	ring, err := tierup.ParseKeyring(cur + "\n" + old)
	if err != nil {
		t.Fatal(err)
	}
	oldRing, _ := tierup.ParseKeyring(old)
	quotes, cards := ring.Key(tierup.PurposeQuoteSignatures), ring.Key(tierup.PurposeCardFingerprints)
	if bytes.Equal(quotes, cards) || len(quotes) != 32 {
		t.Error("purposes share a key")
	}
	if len(ring.KeyID()) != 8 || ring.KeyID() == oldRing.KeyID() || strings.Contains(cur, ring.KeyID()) {
		t.Errorf("key IDs %s, %s", ring.KeyID(), oldRing.KeyID())
	}
	if k, ok := ring.KeyByID(tierup.PurposeQuoteSignatures, oldRing.KeyID()); !ok || !bytes.Equal(k, oldRing.Key(tierup.PurposeQuoteSignatures)) {
		t.Error("the previous secret's key is not found by its ID")
	}
	if _, ok := ring.KeyByID(tierup.PurposeQuoteSignatures, "00000000"); ok {
		t.Error("an unknown ID found a key")
	}
}
