package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte(`kind: feed
name: city.bins
department: FEHD
fields:
  - {name: bin, type: string, required: true}
  - {name: fill, type: float64, unit: percent, min: 0, max: 100}
  - {name: at, type: time, required: true}
key: [bin]
event_time: at
interval: 15m
`), 0o644)
	os.WriteFile(bad, []byte(`kind: feed
name: city.bins2
department: FEHD
fields:
  - {name: bin, type: strin, required: true}
  - {name: at, type: time, required: true}
key: [bin, lid]
event_time: at
interval: 15 minutes
`), 0o644)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"built-in specs", []string{"validate"}, 0, "ok: 11 feed(s)"},
		{"a good file", []string{"validate", good}, 0, "ok: 1 feed(s) valid (checked together with the built-in specs)\n"},
		{"a broken file lists every problem", []string{"validate", good, bad}, 1,
			bad + `:1: key[1]: "lid" is not a field of this feed; key fields must be declared under fields
` + bad + `:5: fields[0].type: unknown type "strin"; valid types are string, int64, float64, bool, time
` + bad + `:9: interval: "15 minutes" is not a duration: use a Go duration like "90s", "5m", "1h" or days like "30d"
`},
		{"a missing file", []string{"validate", filepath.Join(dir, "none.yaml")}, 1, ""},
		{"unknown command", []string{"frobnicate"}, 2, ""},
		{"help", []string{"--help"}, 0, "Usage: highway <command>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout:\n%s\nwant it to contain:\n%s", stdout.String(), tc.stdout)
			}
		})
	}
}

// Every command explains itself with --help and exits 0.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{c.name, "--help"}, &stdout, &stderr); code != 0 {
			t.Errorf("%s --help: exit %d", c.name, code)
		}
		if !strings.Contains(stderr.String(), "Usage: highway "+c.name) || !strings.Contains(stderr.String(), "Flags:") {
			t.Errorf("%s --help says:\n%s", c.name, stderr.String())
		}
	}
}

// TestUnknownFlagIsAUsageError: a flag a command does not know exits 2,
// as a usage error, and says which flag.
func TestUnknownFlagIsAUsageError(t *testing.T) {
	sub := map[string]string{"token": "list", "access": "list", "grant": "list", "audit": "verify", "jobs": "list"}
	for _, c := range commands {
		args := []string{c.name, "--no-such-flag"}
		if s, ok := sub[c.name]; ok {
			args = []string{c.name, s, "--no-such-flag"}
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%s --no-such-flag: exit %d, want 2; it said:\n%s", c.name, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "no-such-flag") {
			t.Errorf("%s --no-such-flag does not name the flag:\n%s", c.name, stderr.String())
		}
	}
}
