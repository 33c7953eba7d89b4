package tierup

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Every key tierup uses is derived from one master secret that lives
// outside the database (a file or the environment), one key per purpose
// (HKDF-SHA256 with the purpose as its info), so that a copy of the
// database holds no key material: card fingerprints cannot be brute-forced
// and quotes cannot be forged from it.

// Purpose names what a derived key is for; keys of different purposes are
// unrelated.
type Purpose string

// Purposes.
const (
	PurposeQuoteSignatures  Purpose = "tierup quote signatures v1"
	PurposeCardFingerprints Purpose = "tierup card fingerprints v1"
	PurposeSessions         Purpose = "tierup dashboard sessions v1"
	purposeKeyID            Purpose = "tierup key id v1"
)

// MinSecretBytes is the shortest master secret accepted: 256 bits.
const MinSecretBytes = 32

// Keyring holds the master secret and, for rotation, the ones before it:
// new signatures use the first; signatures made with an older one still
// verify, found by the key ID they carry.
type Keyring struct {
	secrets [][]byte
	ids     []string
	// derived holds each known purpose's key of every secret, derived
	// once: HKDF on every quote signed cost more than the signature.
	derived map[Purpose][][]byte
}

// NewKeyring returns a keyring whose current secret is the first.
// Errors: no secret, or one shorter than MinSecretBytes.
func NewKeyring(secrets ...[]byte) (*Keyring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no master secret")
	}
	k := &Keyring{}
	for i, s := range secrets {
		if len(s) < MinSecretBytes {
			return nil, fmt.Errorf("master secret %d is %d bytes; it must be at least %d (64 hex digits)", i+1, len(s), MinSecretBytes)
		}
		k.secrets = append(k.secrets, bytes.Clone(s))
		k.ids = append(k.ids, hex.EncodeToString(derive(s, purposeKeyID, 4)))
	}
	// The purposes tierup uses; another one's key is derived when asked for.
	k.derived = map[Purpose][][]byte{}
	for _, p := range []Purpose{PurposeQuoteSignatures, PurposeCardFingerprints, PurposeSessions} {
		k.derived[p] = k.derive(p)
	}
	return k, nil
}

// ParseKeyring reads a keyring as a key file holds it: one secret per line
// in hex, the current one first and older ones after it; blank lines and
// lines starting with # are ignored. Errors name the bad line, never its
// content.
func ParseKeyring(text string) (*Keyring, error) {
	var secrets [][]byte
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := hex.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("line %d is not a hex-encoded secret", n)
		}
		secrets = append(secrets, s)
	}
	return NewKeyring(secrets...)
}

// NewSecret returns a fresh master secret in the key file's format.
func NewSecret() string {
	b := make([]byte, MinSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// KeyID names the current secret in signatures: 8 hex digits derived
// from it, revealing nothing of it.
func (k *Keyring) KeyID() string { return k.ids[0] }

// Key returns the current key for purpose.
func (k *Keyring) Key(p Purpose) []byte { return k.Keys(p)[0] }

// Keys returns the key for purpose of every secret, the current one first:
// copies, which the caller may change.
func (k *Keyring) Keys(p Purpose) [][]byte {
	keys, ok := k.derived[p]
	if !ok {
		return k.derive(p)
	}
	out := make([][]byte, len(keys))
	for i, key := range keys {
		out[i] = bytes.Clone(key)
	}
	return out
}

// KeyByID returns the key for purpose of the secret with that ID, current
// or older; false when the keyring has no such secret.
func (k *Keyring) KeyByID(p Purpose, id string) ([]byte, bool) {
	for i, x := range k.ids {
		if x == id {
			return k.Keys(p)[i], true
		}
	}
	return nil, false
}

// derive returns the key for purpose of every secret.
func (k *Keyring) derive(p Purpose) [][]byte {
	out := make([][]byte, len(k.secrets))
	for i, s := range k.secrets {
		out[i] = derive(s, p, sha256.Size)
	}
	return out
}

func derive(secret []byte, p Purpose, n int) []byte {
	key, err := hkdf.Key(sha256.New, secret, nil, string(p), n)
	if err != nil {
		panic("tierup: hkdf: " + err.Error()) // only for lengths over 255×32 bytes: cannot happen
	}
	return key
}
