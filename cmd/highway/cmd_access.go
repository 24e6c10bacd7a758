package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/api"
)

func runAccess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("access", "access request --feed FEED --purpose TEXT --until DATE | list [--state pending] | show ID | approve ID [--until DATE] | refuse ID [--reason TEXT]  [flags]", `
Access requests, over the API with a department's token (--token or
$HIGHWAY_TOKEN): 'request' asks to read a restricted feed of another
department until a date; the owning department lists them, and approves one
(until the date asked, or --until) or refuses it, with a token that has the
admin scope. An approval grants the feed on every API server at once and
ends by itself at its date. Every step is in the audit log.`, stderr)
	server := fs.String("api", envOr("HIGHWAY_API", "http://127.0.0.1:8080"), "the API's base URL (default $HIGHWAY_API)")
	token := fs.String("token", envOr("HIGHWAY_TOKEN", ""), "a department's token (default $HIGHWAY_TOKEN)")
	feed := fs.String("feed", "", "request: the restricted feed")
	purpose := fs.String("purpose", "", "request: what the data is for")
	until := fs.String("until", "", "request: the end asked for; approve: the grant's end (default: the end asked); RFC 3339 or a date")
	reason := fs.String("reason", "", "refuse: why")
	state := fs.String("state", "", "list: only requests in this state (pending, approved, refused, expired)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	verbs := []string{"request", "list", "show", "approve", "refuse"}
	if len(args) == 0 || !slices.Contains(verbs, args[0]) {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fs.Usage()
			return nil
		}
		return fmt.Errorf("%w: say %s", errUsage, strings.Join(verbs, ", "))
	}
	verb, rest := args[0], args[1:]
	var id string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if *token == "" {
		return fmt.Errorf("%w: give a department's token with --token or $HIGHWAY_TOKEN", errUsage)
	}
	if (verb == "show" || verb == "approve" || verb == "refuse") && id == "" {
		return fmt.Errorf("%w: access %s takes a request's ID (access list shows them)", errUsage, verb)
	}
	call := func(method, path string, body any) ([]byte, error) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(*server, "/")+path, rd)
		if err != nil {
			return nil, fmt.Errorf("%w: --api %q: %v", errUsage, *server, err)
		}
		req.Header.Set("Authorization", "Bearer "+*token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return nil, fmt.Errorf("reaching the API at %s (--api): %w", *server, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if resp.StatusCode/100 != 2 {
			var e struct{ Error, Hint string }
			if json.Unmarshal(out, &e) == nil && e.Error != "" {
				return nil, fmt.Errorf("%s: %s (%s)", resp.Status, e.Error, e.Hint)
			}
			return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(out))
		}
		return out, nil
	}
	var out []byte
	var err error
	switch verb {
	case "request":
		if *feed == "" || *purpose == "" || *until == "" {
			return fmt.Errorf("%w: access request needs --feed, --purpose and --until", errUsage)
		}
		end, err := grantEnd(*until, "", time.Now())
		if err != nil {
			return err
		}
		out, err = call(http.MethodPost, "/api/v1/access-requests", api.AccessRequestBody{Feed: *feed, Purpose: *purpose, Until: end})
		if err != nil {
			return err
		}
	case "list":
		path := "/api/v1/access-requests"
		if *state != "" {
			path += "?state=" + url.QueryEscape(*state)
		}
		if out, err = call(http.MethodGet, path, nil); err != nil {
			return err
		}
		if !*asJSON {
			var l api.AccessRequestList
			if err := json.Unmarshal(out, &l); err != nil {
				return fmt.Errorf("reading the API's answer: %w", err)
			}
			tb := newTable(stdout, "ID", "STATE", "DEPARTMENT", "FEED", "OWNER", "UNTIL", "GRANTED UNTIL", "PURPOSE")
			for _, q := range l.Requests {
				granted := "-"
				if q.GrantUntil != nil {
					granted = cell(q.GrantUntil.UTC())
				}
				tb.row(q.ID, q.State, q.Department, q.Feed, q.Owner, q.Until.UTC(), granted, q.Purpose)
			}
			return tb.flush()
		}
	case "show":
		if out, err = call(http.MethodGet, "/api/v1/access-requests/"+url.PathEscape(id), nil); err != nil {
			return err
		}
	case "approve":
		var body api.DecisionBody
		if *until != "" {
			end, err := grantEnd(*until, "", time.Now())
			if err != nil {
				return err
			}
			body.Until = &end
		}
		if out, err = call(http.MethodPost, "/api/v1/access-requests/"+url.PathEscape(id)+"/approve", body); err != nil {
			return err
		}
	case "refuse":
		if out, err = call(http.MethodPost, "/api/v1/access-requests/"+url.PathEscape(id)+"/refuse", api.DecisionBody{Reason: *reason}); err != nil {
			return err
		}
	}
	if !*asJSON && verb != "show" {
		var q api.AccessRequest
		if json.Unmarshal(out, &q) == nil && q.ID != "" {
			fmt.Fprintf(stderr, "access request %s (%s for %s, owned by %s): %s\n", q.ID, q.Department, q.Feed, q.Owner, q.State)
		}
	}
	_, err = stdout.Write(out)
	return err
}
