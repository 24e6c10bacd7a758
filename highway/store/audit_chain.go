package store

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// The audit log is a hash chain, so that an entry changed, removed or
// inserted by hand in ClickHouse shows: each entry carries the SHA-256 of
// its own content and of the entry before it (AuditLink), numbered without
// gaps within its chain. A chain is what one AuditLog writes, from
// OpenAuditLog to Close; it begins with an "audit.start" entry that links to
// the last entry of the previous chain of the same server, and ends with
// "audit.stop". Anyone who can write to the table can recompute hashes, so
// with a signing key (AuditConfig.Signer) the last entry of every batch the
// log writes (one a second at most, and at least every 1000 entries) is
// also signed with Ed25519: a rewrite of the chain breaks the next
// signature. VerifyAudit checks all of it.

// Actions of the entries the audit log writes itself.
const (
	// AuditActionStart opens a chain; its Detail names the chain it follows.
	AuditActionStart = "audit.start"
	// AuditActionStop closes a chain when the log is closed.
	AuditActionStop = "audit.stop"
)

// AuditLink is an audit entry's place in its chain.
type AuditLink struct {
	// Chain names the chain: the server and when its log was opened.
	Chain string
	// Seq numbers the entries of a chain from 0 (the start entry) up.
	Seq uint64
	// PrevHash is the Hash of the entry before, hex; for a start entry, the
	// hash of the last entry of the chain it follows, or empty.
	PrevHash string
	// Hash is the hex SHA-256 of the entry's content and of PrevHash
	// (AuditEntry.chainHash).
	Hash string
	// Signer is the KeyID of the key that signed Hash, if it is signed.
	Signer string
	// Signature is the hex Ed25519 signature of Hash, if it is signed.
	Signature string
}

// auditChainColumns are the columns of AuditLink, after auditColumns.
var auditChainColumns = []column{
	{"chain", "String"},
	{"seq", "UInt64"},
	{"prev_hash", "String"},
	{"hash", "String"},
	{"signer", "String"},
	{"signature", "String"},
}

// storedAuditEntry is an entry as the table holds it: the at column in
// seconds, the numbers clamped to their column types. Hashes cover this
// form, so what is read back hashes the same.
func storedAuditEntry(e AuditEntry) AuditEntry {
	e.At = e.At.UTC().Truncate(0)
	if e.Status < 0 || e.Status >= 1<<16 {
		e.Status = 0
	}
	ms := e.Duration.Milliseconds()
	if ms < 0 || ms > 1<<32-1 {
		ms = 1<<32 - 1
	}
	e.Duration = time.Duration(ms) * time.Millisecond
	return e
}

// chainHash is the SHA-256 of the entry's content, its chain and number,
// and prevHash, each field length-prefixed so that no two entries encode
// alike.
func (e AuditEntry) chainHash() string {
	h := sha256.New()
	var n [8]byte
	str := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	num := func(v uint64) {
		binary.BigEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	str("highway-audit-v1")
	str(e.Link.Chain)
	num(e.Link.Seq)
	str(e.Link.PrevHash)
	num(uint64(e.At.UnixMilli()))
	for _, s := range []string{e.Department, e.TokenID, e.Client, e.Action, e.Route, e.Feed, e.Detail} {
		str(s)
	}
	num(uint64(e.Status))
	num(e.Rows)
	num(e.Bytes)
	num(uint64(e.Duration.Milliseconds()))
	str(e.Error)
	return hex.EncodeToString(h.Sum(nil))
}

// signedMessage is what an anchor's signature covers.
func signedMessage(hash string) []byte { return []byte("highway-audit-anchor-v1\n" + hash) }

// KeyID names an Ed25519 public key in AuditLink.Signer: the first 8 bytes
// of its SHA-256, hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// ReadSigningKey reads an Ed25519 private key from a PEM file (PKCS #8, as
// `highway audit keygen` or `openssl genpkey -algorithm ed25519` write it).
func ReadSigningKey(path string) (ed25519.PrivateKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit signing key %s: %w (want a PKCS #8 Ed25519 key: highway audit keygen makes one)", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit signing key %s: a %T, not an Ed25519 key (highway audit keygen makes one)", path, k)
	}
	return priv, nil
}

// ReadVerifyKey reads an Ed25519 public key from a PEM file (PKIX, as
// `highway audit keygen` or `openssl pkey -pubout` write it).
func ReadVerifyKey(path string) (ed25519.PublicKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit public key %s: %w (want a PEM PUBLIC KEY: highway audit keygen makes one)", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit public key %s: a %T, not an Ed25519 key", path, k)
	}
	return pub, nil
}

// WriteKeyPair writes a new Ed25519 key pair: the private key (PKCS #8,
// mode 0600) to privPath and the public key (PKIX) to pubPath. It refuses
// to overwrite a file.
func WriteKeyPair(privPath, pubPath string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{{privPath, "PRIVATE KEY", privDER, 0o600}, {pubPath, "PUBLIC KEY", pubDER, 0o644}} {
		out, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return nil, fmt.Errorf("writing key: %w", err)
		}
		err = pem.Encode(out, &pem.Block{Type: f.typ, Bytes: f.der})
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("writing key %s: %w", f.path, err)
		}
	}
	return pub, nil
}

func readPEM(path string) (*pem.Block, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("key %s: %w", path, errNoPEM)
	}
	return block, nil
}

var errNoPEM = errors.New("no PEM block in the file")

// chainer links entries into a chain as they are written. It is used by
// the audit log's one writer goroutine only.
type chainer struct {
	chain  string
	next   uint64
	prev   string
	signer ed25519.PrivateKey
	keyID  string
}

// link fills in the links of entries, which follow the chain's last
// written entry, and signs the last one. The chain moves on only by
// commit, once the entries are written: a batch that fails is linked
// afresh with the next one.
func (c *chainer) link(entries []AuditEntry) {
	prev := c.prev
	for i := range entries {
		e := storedAuditEntry(entries[i])
		e.Link = AuditLink{Chain: c.chain, Seq: c.next + uint64(i), PrevHash: prev}
		e.Link.Hash = e.chainHash()
		prev = e.Link.Hash
		entries[i] = e
	}
	if c.signer != nil && len(entries) > 0 {
		last := &entries[len(entries)-1].Link
		last.Signer = c.keyID
		last.Signature = hex.EncodeToString(ed25519.Sign(c.signer, signedMessage(last.Hash)))
	}
}

// commit moves the chain past entries, which link wrote.
func (c *chainer) commit(entries []AuditEntry) {
	if len(entries) == 0 {
		return
	}
	c.next += uint64(len(entries))
	c.prev = entries[len(entries)-1].Link.Hash
}
