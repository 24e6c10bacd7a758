package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewChecksConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Token: "t"}, "URL is empty"},
		{Config{URL: "highway:8080", Token: "t"}, "not an http(s) URL"},
		{Config{URL: "ftp://highway", Token: "t"}, "not an http(s) URL"},
		{Config{URL: "http://highway:8080"}, "no department token"},
		{Config{URL: "https://highway", Token: "t", TLSCACert: "not pem"}, "not a PEM"},
	}
	for _, tc := range tests {
		_, err := New(tc.cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want %q", tc.cfg, err, tc.want)
		}
	}
	c, err := New(Config{URL: " http://highway:8080/ ", Token: "t"})
	if err != nil || c.URL() != "http://highway:8080" {
		t.Errorf("trimmed URL: %v %v", c, err)
	}
}

// serve answers every request with handler and returns a client of it.
func serve(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	s := httptest.NewServer(handler)
	t.Cleanup(s.Close)
	c, err := New(Config{URL: s.URL, Token: "secret-token"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		body        string
		wantMsg     string
		user, auth  bool
		wantInError []string
	}{
		{"api error with hint", 400, `{"error": "unknown column temp", "hint": "see the fields"}`, "unknown column temp", true, false, []string{"unknown column temp", "(400)", "see the fields"}},
		{"token", 401, `{"error": "no token"}`, "no token", false, true, []string{"(401)"}},
		{"proxy page", 502, "<html>Bad Gateway</html>", "<html>Bad Gateway</html>", false, false, []string{"(502)"}},
		{"empty body", 503, "", "Service Unavailable", false, false, []string{"Service Unavailable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer secret-token" {
					t.Errorf("Authorization %q", r.Header.Get("Authorization"))
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			_, err := c.Feeds(context.Background())
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want *Error", err)
			}
			if ae.Status != tc.status || ae.Message != tc.wantMsg || ae.UserError() != tc.user || ae.AuthError() != tc.auth {
				t.Errorf("got %+v user %v auth %v", ae, ae.UserError(), ae.AuthError())
			}
			for _, w := range tc.wantInError {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Error("the token leaked into an error")
			}
		})
	}
}

func TestQueryRefusesOtherContent(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[]`)
	})
	if _, err := c.Query(context.Background(), "SELECT 1", "A"); !errors.Is(err, ErrProtocol) {
		t.Errorf("got %v, want ErrProtocol", err)
	}
}

func TestJobsBareOrWrapped(t *testing.T) {
	for _, body := range []string{
		`{"jobs": [{"name": "city.district_hourly", "spec": {"table": "city_district_hourly"}}, {"name": "a.b"}]}`,
		`[{"name": "city.district_hourly", "spec": {"table": "city_district_hourly"}}, {"name": "a.b"}]`,
	} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
		jobs, err := c.Jobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 2 || jobs[0].ResultTableName() != "city_district_hourly" || jobs[1].ResultTableName() != "a_b" {
			t.Errorf("%s: %+v", body, jobs)
		}
	}
}

func TestLive(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/feeds/td.traffic.detectors/live" || r.Header.Get("Accept") != "text/event-stream" {
			t.Errorf("%s %s", r.URL.Path, r.Header.Get("Accept"))
		}
		fmt.Fprint(w, ": hello\n\nevent: record\nid: 0-1\ndata: {\"a\": 1}\n\ndata: {\"a\":\ndata: 2}\n\nretry: 100\n\n")
	})
	var got []string
	err := c.Live(context.Background(), "td.traffic.detectors", func(r json.RawMessage) error {
		got = append(got, string(r))
		return nil
	})
	if !errors.Is(err, ErrStreamEnded) {
		t.Errorf("end: %v, want ErrStreamEnded", err)
	}
	if want := []string{`{"a": 1}`, "{\"a\":\n2}"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records %q, want %q", got, want)
	}

	bad := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "data: not json\n\n") })
	if err := bad.Live(context.Background(), "f", func(json.RawMessage) error { return nil }); !errors.Is(err, ErrProtocol) {
		t.Errorf("non-JSON event: %v, want ErrProtocol", err)
	}
	stop := errors.New("stop")
	if err := c.Live(context.Background(), "td.traffic.detectors", func(json.RawMessage) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("handler error: %v", err)
	}
}

// TestLiveErrorEvent: the API's last "event: error" (a dropped client, a
// failed tail) ends Live with ErrLiveError and the API's message, after
// the records before it; it is not handed on as a record. Events of other
// types are skipped.
func TestLiveErrorEvent(t *testing.T) {
	tests := []struct {
		name, body, wantMsg string
		want                []string
	}{
		{"api error body", "event: record\ndata: {\"a\": 1}\n\nevent: ping\ndata: {\"p\": 1}\n\nevent: error\ndata: {\"error\": \"client too slow\", \"hint\": \"reconnect to follow the feed again\"}\n\ndata: {\"a\": 2}\n\n",
			"client too slow (reconnect to follow the feed again)", []string{`{"a": 1}`}},
		{"text", "event: error\ndata: tail failed\n\n", "tail failed", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tc.body) })
			var got []string
			err := c.Live(context.Background(), "f", func(r json.RawMessage) error {
				got = append(got, string(r))
				return nil
			})
			if !errors.Is(err, ErrLiveError) || !errors.Is(err, ErrStreamEnded) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("end: %v, want ErrLiveError (an ErrStreamEnded) saying %q", err, tc.wantMsg)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("records %q, want %q", got, tc.want)
			}
		})
	}
}
