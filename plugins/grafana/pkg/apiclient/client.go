// Package apiclient is the plugin's client of the Highway API server: the
// feed catalogue, read-only SQL answered as an Arrow IPC stream, jobs, and
// the live tail of a feed as Server-Sent Events. It is the plugin's only door
// to the platform: the plugin never talks to Kafka or ClickHouse itself.
//
// Every call carries the department's token as a bearer token. The token is
// kept in an unexported field and never appears in errors or logs.
package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/api/wire"
)

// Config says where the API is and how to reach it.
type Config struct {
	// URL is the API's base URL, e.g. https://highway.city.gov.hk. Required.
	URL string
	// Token is the department's bearer token. Required.
	Token string
	// TLSSkipVerify turns off certificate checks (for test servers only).
	// Default false.
	TLSSkipVerify bool
	// TLSCACert is a PEM bundle of extra CAs trusted for the API's
	// certificate. Default: the system's roots only.
	TLSCACert string
	// Timeout bounds each non-streaming call. Default 60s.
	Timeout time.Duration
	// UserAgent is sent with every call. Default "highway-grafana".
	UserAgent string
}

// Errors of the client, by whose fault they are.
var (
	// ErrConfig is returned by New when the settings are unusable: the
	// administrator who configured the datasource must fix them.
	ErrConfig = errors.New("datasource settings")
	// ErrUnreachable is returned when the API cannot be reached at all
	// (DNS, connection refused, TLS, timeout).
	ErrUnreachable = errors.New("highway API unreachable")
	// ErrProtocol is returned when the API answers something this client
	// cannot read: a version mismatch between plugin and API.
	ErrProtocol = errors.New("unexpected answer from the highway API")
)

// Error is an error answer of the API: its status and the JSON body's
// "error" and "hint".
type Error struct {
	Status  int
	Message string
	Hint    string
}

// Error implements error.
func (e *Error) Error() string {
	msg := fmt.Sprintf("highway API: %s (%d)", e.Message, e.Status)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// UserError reports whether the caller's request was at fault (400, 404,
// 413, 422): a query to fix rather than a server to restart.
func (e *Error) UserError() bool {
	return e.Status >= 400 && e.Status < 500 && !e.AuthError() && e.Status != http.StatusTooManyRequests
}

// AuthError reports whether the token was refused (401) or lacks the right (403).
func (e *Error) AuthError() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// Client calls the API. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	token  string
	http   *http.Client // for calls bounded by Timeout
	stream *http.Client // for the live tail, no overall timeout
	ua     string
}

// New checks cfg and returns a client. It makes no call.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, fmt.Errorf("%w: the API URL is empty; set it to the Highway API server, e.g. http://highway:8080", ErrConfig)
	}
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(cfg.URL), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: the API URL %q is not an http(s) URL like http://highway:8080", ErrConfig, cfg.URL)
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("%w: no department token; paste the token from `highway token create --department <dept>` into the datasource settings", ErrConfig)
	}
	tlsCfg := &tls.Config{InsecureSkipVerify: cfg.TLSSkipVerify} //nolint:gosec // an explicit, documented setting
	if cfg.TLSCACert != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(cfg.TLSCACert)) {
			return nil, fmt.Errorf("%w: the CA certificate is not a PEM certificate", ErrConfig)
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "highway-grafana"
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	transport.MaxIdleConnsPerHost = 16
	return &Client{
		base:   u,
		token:  cfg.Token,
		http:   &http.Client{Transport: transport, Timeout: cfg.Timeout},
		stream: &http.Client{Transport: transport},
		ua:     cfg.UserAgent,
	}, nil
}

// URL is the API's base URL, for messages.
func (c *Client) URL() string { return c.base.String() }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// do sends a request to path (relative to the base URL) and returns the
// response when its status is 2xx; otherwise it reads the error body.
func (c *Client) do(ctx context.Context, hc *http.Client, method, path string, body any, accept string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding request to %s: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return nil, fmt.Errorf("building request to %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.ua)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, c.base, redact(err))
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readError(resp)
}

// redact strips the request URL from a transport error (it never holds the
// token, which is in a header, but keeps messages short).
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// readError turns a non-2xx answer into an *Error.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode}
	var body wire.ErrorBody
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message, e.Hint = body.Error, body.Hint
	} else {
		e.Message = strings.TrimSpace(string(b))
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "..."
		}
	}
	return e
}

// getJSON decodes the JSON answer of GET path into v.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, c.http, http.MethodGet, path, nil, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%w: decoding GET %s: %v", ErrProtocol, path, err)
	}
	return nil
}
