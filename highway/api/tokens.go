package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cityhighway/highway/highway/control"
)

// ErrNoToken is returned by TokenFile.Revoke for an unknown token ID.
var ErrNoToken = control.ErrNoToken

type tokenFileData struct {
	Version int             `json:"version"`
	Tokens  []control.Token `json:"tokens"`
}

// TokenFile keeps the API's bearer tokens in a JSON file that holds only
// each token's SHA-256, never the token. The `highway token` command adds
// and revokes tokens; a running server sees the changes within a second
// (it re-reads the file when it changes). It is safe for concurrent use, and
// writers on one machine are serialised with a lock file.
type TokenFile struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	entries []control.Token
	modTime time.Time
	size    int64
	checked time.Time
}

// OpenTokenFile reads the token file at path; a missing file is an empty
// store (the first Create makes it).
func OpenTokenFile(path string) (*TokenFile, error) {
	f := &TokenFile{path: path, now: time.Now}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reload(true); err != nil {
		return nil, err
	}
	return f, nil
}

// Path is the file's path.
func (f *TokenFile) Path() string { return f.path }

// reload re-reads the file if it changed since the last read (or always,
// with force). The caller holds f.mu.
func (f *TokenFile) reload(force bool) error {
	st, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		f.entries, f.modTime, f.size = nil, time.Time{}, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading tokens: %w", err)
	}
	if !force && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("reading tokens: %w", err)
	}
	var d tokenFileData
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("reading tokens from %s: not a token file: %w", f.path, err)
	}
	f.entries, f.modTime, f.size = d.Tokens, st.ModTime(), st.Size()
	return nil
}

// Verify returns the token's info if token is a valid, unrevoked token
// (control.Verify: in constant time over every stored hash).
func (f *TokenFile) Verify(token string) (TokenInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); now.Sub(f.checked) >= time.Second {
		f.checked = now
		_ = f.reload(false) // on error, keep serving the tokens read last
	}
	return control.Verify(f.entries, token)
}

// Create makes a new token for department with DefaultScopes and
// DefaultTokenTTL and returns it; it is not stored and cannot be shown again.
func (f *TokenFile) Create(department, note string) (string, TokenInfo, error) {
	return f.CreateWith(department, TokenSpec{Note: note})
}

// CreateWith makes a new token for department as spec says and returns it;
// it is not stored and cannot be shown again.
func (f *TokenFile) CreateWith(department string, spec TokenSpec) (string, TokenInfo, error) {
	token, t, err := control.NewToken(department, spec, f.now())
	if err != nil {
		return "", TokenInfo{}, err
	}
	if err := f.apply(&control.Change{Op: control.OpTokenCreate, Token: &t}); err != nil {
		return "", TokenInfo{}, err
	}
	return token, t.TokenInfo, nil
}

// Rotate makes a token that replaces the one with the given ID (same
// department, scopes and note, a new expiry of ttl, default
// DefaultTokenTTL) and makes the old one expire after overlap, if it would
// not sooner, so that clients can move to the new one in the meantime.
func (f *TokenFile) Rotate(id string, overlap, ttl time.Duration) (string, TokenInfo, error) {
	list, err := f.List()
	if err != nil {
		return "", TokenInfo{}, err
	}
	i := slices.IndexFunc(list, func(t TokenInfo) bool { return t.ID == id })
	if i < 0 {
		return "", TokenInfo{}, fmt.Errorf("%w: %q (highway token list shows the IDs)", ErrNoToken, id)
	}
	token, t, err := control.NewToken(list[i].Department, TokenSpec{Note: list[i].Note, Scopes: list[i].Scopes, TTL: ttl, Replaces: id}, f.now())
	if err != nil {
		return "", TokenInfo{}, err
	}
	if err := f.apply(&control.Change{Op: control.OpTokenRotate, ID: id, Token: &t, Overlap: overlap}); err != nil {
		return "", TokenInfo{}, err
	}
	return token, t.TokenInfo, nil
}

// Tokens returns every stored token, hashes included (for the migration
// to the control plane).
func (f *TokenFile) Tokens() ([]control.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reload(true); err != nil {
		return nil, err
	}
	return slices.Clone(f.entries), nil
}

// apply makes a change to the file's tokens as the control plane makes it
// (control.State.Apply).
func (f *TokenFile) apply(c *control.Change) error {
	return f.update(func(d *tokenFileData) error {
		st := control.State{Tokens: d.Tokens}
		if err := st.Apply(c, f.now()); err != nil {
			return err
		}
		d.Tokens = st.Tokens
		return nil
	})
}

// List returns every token's info, revoked ones included, oldest first.
func (f *TokenFile) List() ([]TokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reload(true); err != nil {
		return nil, err
	}
	out := make([]TokenInfo, len(f.entries))
	for i, e := range f.entries {
		out[i] = e.TokenInfo
	}
	return out, nil
}

// Revoke marks the token with the given ID revoked; revoking twice is not
// an error. An unknown ID is ErrNoToken.
func (f *TokenFile) Revoke(id string) error {
	return f.apply(&control.Change{Op: control.OpTokenRevoke, ID: id})
}

// update applies change to the file under an exclusive lock and writes it
// atomically (a temporary file renamed over it), readable by its owner only.
func (f *TokenFile) update(change func(*tokenFileData) error) error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("creating the folder of %s: %w", f.path, err)
	}
	lock, err := os.OpenFile(f.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("locking %s: %w", f.path, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", f.path, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it anyway

	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reload(true); err != nil {
		return err
	}
	d := tokenFileData{Version: 1, Tokens: slices.Clone(f.entries)}
	if err := change(&d); err != nil {
		return err
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding tokens: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".tokens-*")
	if err != nil {
		return fmt.Errorf("writing tokens: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing tokens: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing tokens: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing tokens: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("writing tokens: %w", err)
	}
	return f.reload(true)
}
