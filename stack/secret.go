package stack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/sqlstore"
)

// keyring reads the master secret: Options.SecretKey, else the file
// Options.SecretKeyFile, else — for an embedded SQLite database only —
// the file beside its directory, made on first start. It never goes into
// the database: a copy of the database alone must not yield a key.
func (s *Stack) keyring() (*tierup.Keyring, error) {
	ring, path, err := findKeyring(s.opts, s.Store.Dialect())
	if ring != nil || err != nil {
		return ring, err
	}
	return s.makeKeyFile(path)
}

// CheckSecret says where the master secret comes from, as Open would load
// it, without making one: what `tierup doctor` prints.
func CheckSecret(o Options, dialect sqlstore.Dialect) (string, error) {
	ring, path, err := findKeyring(o, dialect)
	switch {
	case err != nil:
		return "", err
	case ring == nil:
		return "not made yet: the first start makes " + path + "; back it up apart from the database", nil
	case o.SecretKey != "":
		return "from TIERUP_SECRET_KEY", nil
	case o.SecretKeyFile != "":
		return "from " + o.SecretKeyFile, nil
	}
	return "from " + path, nil
}

// findKeyring loads the master secret; when it is the embedded database's
// default file and that does not exist yet, it returns a nil ring and the
// file's path.
func findKeyring(o Options, dialect sqlstore.Dialect) (*tierup.Keyring, string, error) {
	switch {
	case o.SecretKey != "":
		ring, err := tierup.ParseKeyring(o.SecretKey)
		if err != nil {
			return nil, "", fmt.Errorf("TIERUP_SECRET_KEY: %w", err)
		}
		return ring, "", nil
	case o.SecretKeyFile != "":
		ring, err := readKeyFile(o.SecretKeyFile)
		return ring, "", err
	case dialect == sqlstore.Postgres:
		return nil, "", errors.New("with PostgreSQL, tierup needs its master secret from outside the database: " +
			"give --secret-key-file FILE (or TIERUP_SECRET_KEY_FILE) or TIERUP_SECRET_KEY; make one with `openssl rand -hex 32 > tierup.key && chmod 600 tierup.key`, " +
			"and give every process the same one")
	}
	// The embedded database's key file is "<dir>.key" beside the
	// database's directory (tierup-data.key for tierup-data/tierup.db), so
	// that copying the data directory does not copy the key.
	dir, err := filepath.Abs(filepath.Dir(strings.TrimPrefix(o.DB, "sqlite:")))
	if err != nil {
		return nil, "", err
	}
	path := dir + ".key"
	ring, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, nil
	}
	return ring, path, err
}

func readKeyFile(path string) (*tierup.Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	ring, err := tierup.ParseKeyring(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return ring, nil
}

// makeKeyFile makes the embedded database's key file at path.
func (s *Stack) makeKeyFile(path string) (*tierup.Keyring, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("making the master secret: %w", err)
	}
	text := "# tierup's master secret: keep it, back it up apart from the database, never commit it.\n" + tierup.NewSecret() + "\n"
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing the master secret: %w", err)
	}
	s.opts.Log.Warn("generated the master secret; keep this file and back it up apart from the database", "file", path)
	return tierup.ParseKeyring(text)
}
