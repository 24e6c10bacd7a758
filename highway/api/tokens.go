package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
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
)

// ErrNoToken is returned by TokenFile.Revoke for an unknown token ID.
var ErrNoToken = errors.New("no such token")

// TokenInfo is what is known of a token, without its secret.
type TokenInfo struct {
	// ID names the token in lists, logs and the audit log; it is not secret.
	ID         string     `json:"id"`
	Department string     `json:"department"`
	Note       string     `json:"note,omitempty"`
	Created    time.Time  `json:"created"`
	Revoked    *time.Time `json:"revoked,omitempty"`
	// Scopes say what the token may do (see ScopeRead); none stored (a
	// token made before scopes) means all of DefaultScopes.
	Scopes []string `json:"scopes,omitempty"`
	// Expires is when the token stops working; nil (a token made before
	// expiry) is never.
	Expires *time.Time `json:"expires,omitempty"`
	// Replaces is the ID of the token this one was rotated from.
	Replaces string `json:"replaces,omitempty"`
}

// TokenSpec is what a new token is made with.
type TokenSpec struct {
	// Note says what the token is for.
	Note string
	// Scopes default to DefaultScopes.
	Scopes []string
	// TTL is how long it lasts; default DefaultTokenTTL.
	TTL time.Duration
	// Replaces names the token this one rotates.
	Replaces string
}

// tokenEntry is a token as stored: its info and the SHA-256 of the secret.
type tokenEntry struct {
	TokenInfo
	Hash string `json:"sha256"`
}

type tokenFileData struct {
	Version int          `json:"version"`
	Tokens  []tokenEntry `json:"tokens"`
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
	entries []tokenEntry
	modTime time.Time
	size    int64
	checked time.Time
}

// tokenPrefix starts every token, so a leaked one is easy to recognise.
const tokenPrefix = "hw_"

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

// Verify returns the token's info if token is a valid, unrevoked token. It
// compares the token's hash with every stored hash in constant time, so its
// timing says nothing about which token, if any, came close.
func (f *TokenFile) Verify(token string) (TokenInfo, bool) {
	sum := sha256.Sum256([]byte(token))
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); now.Sub(f.checked) >= time.Second {
		f.checked = now
		_ = f.reload(false) // on error, keep serving the tokens read last
	}
	found := -1
	for i := range f.entries {
		stored, err := hex.DecodeString(f.entries[i].Hash)
		if err != nil || len(stored) != len(sum) {
			continue
		}
		if subtle.ConstantTimeCompare(stored, sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 || f.entries[found].Revoked != nil {
		return TokenInfo{}, false
	}
	return f.entries[found].TokenInfo, true
}

// Create makes a new token for department with DefaultScopes and
// DefaultTokenTTL and returns it; it is not stored and cannot be shown again.
func (f *TokenFile) Create(department, note string) (string, TokenInfo, error) {
	return f.CreateWith(department, TokenSpec{Note: note})
}

// CreateWith makes a new token for department as spec says and returns it;
// it is not stored and cannot be shown again.
func (f *TokenFile) CreateWith(department string, spec TokenSpec) (string, TokenInfo, error) {
	token, info, err := newToken(department, spec, f.now())
	if err != nil {
		return "", TokenInfo{}, err
	}
	err = f.update(func(d *tokenFileData) error {
		d.Tokens = append(d.Tokens, tokenEntry{TokenInfo: info, Hash: tokenHash(token)})
		return nil
	})
	if err != nil {
		return "", TokenInfo{}, err
	}
	return token, info, nil
}

// Rotate makes a token that replaces the one with the given ID (same
// department, scopes and note, a new expiry of ttl, default
// DefaultTokenTTL) and makes the old one expire after overlap, if it would
// not sooner, so that clients can move to the new one in the meantime.
func (f *TokenFile) Rotate(id string, overlap, ttl time.Duration) (string, TokenInfo, error) {
	var (
		token string
		info  TokenInfo
	)
	err := f.update(func(d *tokenFileData) error {
		for i := range d.Tokens {
			old := &d.Tokens[i]
			if old.ID != id {
				continue
			}
			now := f.now()
			if old.Revoked != nil || old.Expired(now) {
				return fmt.Errorf("token %s is revoked or expired: make a new one with 'highway token create --department %s'", id, old.Department)
			}
			var err error
			token, info, err = newToken(old.Department, TokenSpec{Note: old.Note, Scopes: old.Scopes, TTL: ttl, Replaces: old.ID}, now)
			if err != nil {
				return err
			}
			end := now.Add(overlap).UTC().Truncate(time.Second)
			if old.Expires == nil || end.Before(*old.Expires) {
				old.Expires = &end
			}
			d.Tokens = append(d.Tokens, tokenEntry{TokenInfo: info, Hash: tokenHash(token)})
			return nil
		}
		return fmt.Errorf("%w: %q (highway token list shows the IDs)", ErrNoToken, id)
	})
	if err != nil {
		return "", TokenInfo{}, err
	}
	return token, info, nil
}

// newToken makes a token and its info.
func newToken(department string, spec TokenSpec, now time.Time) (string, TokenInfo, error) {
	if spec.Scopes == nil {
		spec.Scopes = DefaultScopes
	}
	if len(spec.Scopes) == 0 {
		return "", TokenInfo{}, fmt.Errorf("%w: a token needs at least one scope", ErrBadScope)
	}
	if err := CheckScopes(spec.Scopes); err != nil {
		return "", TokenInfo{}, err
	}
	if spec.TTL == 0 {
		spec.TTL = DefaultTokenTTL
	}
	if spec.TTL < 0 {
		return "", TokenInfo{}, fmt.Errorf("a token's lifetime must be positive, not %s", spec.TTL)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", TokenInfo{}, fmt.Errorf("making a token: %w", err)
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return "", TokenInfo{}, fmt.Errorf("making a token: %w", err)
	}
	created := now.UTC().Truncate(time.Second)
	expires := created.Add(spec.TTL)
	info := TokenInfo{ID: "tok_" + hex.EncodeToString(id), Department: department, Note: spec.Note, Created: created,
		Scopes: slices.Clone(spec.Scopes), Expires: &expires, Replaces: spec.Replaces}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(secret), info, nil
}

// tokenHash is how a token is stored: its SHA-256, hex.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
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
	return f.update(func(d *tokenFileData) error {
		for i := range d.Tokens {
			if d.Tokens[i].ID == id {
				if d.Tokens[i].Revoked == nil {
					t := f.now().UTC().Truncate(time.Second)
					d.Tokens[i].Revoked = &t
				}
				return nil
			}
		}
		return fmt.Errorf("%w: %q (highway token list shows the IDs)", ErrNoToken, id)
	})
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
	d := tokenFileData{Version: 1, Tokens: append([]tokenEntry(nil), f.entries...)}
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
