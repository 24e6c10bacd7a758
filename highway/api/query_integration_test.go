//go:build integration

package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/store"
)

// TestResultFailsLate: when ClickHouse fails a query after its first rows
// went out (here max_result_rows, over the second block), the client sees
// the failure in every format of both streaming routes: json's "error",
// ndjson's last line, and csv and arrow bodies cut off before their end.
func TestResultFailsLate(t *testing.T) {
	const rows = 100000
	lim := store.Limits{MaxResultRows: 70000}
	e := newEnv(t, rows, func(c *api.Config) { c.QueryLimits, c.OpenLimits = lim, lim })
	for _, route := range []string{"query", "open data"} {
		for _, tc := range []struct {
			format string
			check  func(t *testing.T, body []byte, readErr error)
		}{
			{"json", func(t *testing.T, body []byte, readErr error) {
				var got struct {
					Rows  int
					Error string
				}
				if err := json.Unmarshal(body, &got); readErr != nil || err != nil || got.Rows == 0 || !strings.Contains(got.Error, "396") {
					t.Errorf("read %v, parse %v, rows %d, error %q", readErr, err, got.Rows, got.Error)
				}
			}},
			{"ndjson", func(t *testing.T, body []byte, readErr error) {
				lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
				var last struct{ Error string }
				err := json.Unmarshal(lines[len(lines)-1], &last)
				if readErr != nil || err != nil || len(lines) < 2 || !strings.Contains(last.Error, "396") {
					t.Errorf("read %v, %d lines, last %.200s", readErr, len(lines), lines[len(lines)-1])
				}
			}},
			{"csv", cutOff},
			{"arrow", cutOff},
		} {
			t.Run(route+"/"+tc.format, func(t *testing.T) {
				var req *http.Request
				if route == "query" {
					body, _ := json.Marshal(api.QueryRequest{SQL: "SELECT station, value, at FROM test_open_readings", Format: tc.format})
					req, _ = http.NewRequest("POST", e.ts.URL+"/api/v1/query", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+e.tokens["TEST"])
				} else {
					req, _ = http.NewRequest("GET", e.ts.URL+"/open/v1/feeds/test.open.readings/data?from=1795651200000&to=1795661200000&format="+tc.format, nil)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("status %d (the failure came before the first rows; the test needs it later): %s", resp.StatusCode, b)
				}
				body, readErr := io.ReadAll(resp.Body)
				if len(body) == 0 {
					t.Fatalf("no rows before the failure (read error %v)", readErr)
				}
				tc.check(t, body, readErr)
			})
		}
	}
}

// cutOff checks that a body was cut off: its reader gets an error, not an
// end of body.
func cutOff(t *testing.T, body []byte, readErr error) {
	if !errors.Is(readErr, io.ErrUnexpectedEOF) {
		t.Errorf("read %d bytes, then %v; want io.ErrUnexpectedEOF", len(body), readErr)
	}
}
