package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/control"
)

// controlFlags are the flags of the commands that reach the control plane
// (the scheduler nodes that hold tokens and grants).
type controlFlags struct {
	nodes  listFlag
	secret string
}

func (c *controlFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.nodes, "control-plane", "HTTP addresses (host:port, comma-separated or repeated) of scheduler nodes, the control plane that holds tokens and grants (default $HIGHWAY_CONTROL_PLANE)")
	fs.StringVar(&c.secret, "control-secret", envOr("HIGHWAY_CONTROL_SECRET", ""), "the control plane's secret ('highway schedule --control-secret'; default $HIGHWAY_CONTROL_SECRET)")
}

// given reports whether a control plane was named, by flag or environment.
func (c *controlFlags) given() bool {
	if len(c.nodes) == 0 {
		if env := os.Getenv("HIGHWAY_CONTROL_PLANE"); env != "" {
			_ = c.nodes.Set(env)
		}
	}
	return len(c.nodes) > 0
}

// needSecret is the usage error of a command given no control-plane
// secret: outside 'highway dev', which makes its own, the control plane
// never runs open.
func needSecret(command string) error {
	return fmt.Errorf("%w: highway %s needs the control plane's secret: pass --control-secret or set HIGHWAY_CONTROL_SECRET, the same on every 'highway schedule' node and every serve, token and grant (make one with: openssl rand -hex 32); only 'highway dev' runs without one, as it makes its own", errUsage, command)
}

// client returns a client of the control plane.
func (c *controlFlags) client() (*control.Client, error) {
	cl, err := control.NewClient(c.nodes, c.secret)
	if err != nil {
		return nil, fmt.Errorf("%w: --control-plane: %v", errUsage, err)
	}
	cl.Actor = actor()
	return cl, nil
}

// actor names who runs this command, for the audit log.
func actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// tokenStore is where `highway token` keeps tokens: the control plane, or
// a token file on this machine.
type tokenStore interface {
	CreateWith(ctx context.Context, department string, spec api.TokenSpec) (string, api.TokenInfo, error)
	List(ctx context.Context) ([]api.TokenInfo, error)
	Revoke(ctx context.Context, id string) error
	Rotate(ctx context.Context, id string, overlap, ttl time.Duration) (string, api.TokenInfo, error)
	// where says where the tokens are kept, for messages.
	where() string
}

// fileTokens is a token file as a tokenStore.
type fileTokens struct{ f *api.TokenFile }

func (t fileTokens) CreateWith(_ context.Context, d string, spec api.TokenSpec) (string, api.TokenInfo, error) {
	return t.f.CreateWith(d, spec)
}
func (t fileTokens) List(context.Context) ([]api.TokenInfo, error) { return t.f.List() }
func (t fileTokens) Revoke(_ context.Context, id string) error     { return t.f.Revoke(id) }
func (t fileTokens) Rotate(_ context.Context, id string, overlap, ttl time.Duration) (string, api.TokenInfo, error) {
	return t.f.Rotate(id, overlap, ttl)
}
func (t fileTokens) where() string { return t.f.Path() }

// controlTokens is the control plane as a tokenStore.
type controlTokens struct{ *control.Client }

func (t controlTokens) where() string {
	return "the control plane (" + strings.Join(t.Nodes(), ", ") + "); revocations reach every API server within a second"
}

// migrateTokens copies the tokens of a token file into the control plane,
// those it does not hold yet; it is safe to run at every start.
func migrateTokens(ctx context.Context, cl *control.Client, path string, log interface {
	Info(string, ...any)
}) error {
	tf, err := api.OpenTokenFile(path)
	if err != nil {
		return err
	}
	tokens, err := tf.Tokens()
	if err != nil || len(tokens) == 0 {
		return err
	}
	added, err := cl.Import(ctx, tokens)
	if err != nil {
		return fmt.Errorf("migrating the tokens of %s to the control plane: %w", path, err)
	}
	if added > 0 {
		log.Info("tokens migrated from the token file to the control plane; the file is no longer read", "file", path, "added", added, "already_there", len(tokens)-added)
	} else {
		log.Info("the token file's tokens are on the control plane already; the file is no longer read", "file", path, "tokens", len(tokens))
	}
	return nil
}

// randomSecret makes a control-plane secret (highway dev's own).
func randomSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making the control plane's secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}
