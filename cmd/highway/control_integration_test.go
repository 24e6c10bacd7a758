//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cityhighway/highway/highway/api"
	"github.com/cityhighway/highway/highway/control"
	"github.com/cityhighway/highway/internal/testenv"
)

// proc is a highway process of the test.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

// TestControlPlaneProcesses runs the control plane as processes: three
// `highway schedule` nodes (ports 17001-17003, HTTP 17081-17083: below 32768, where Linux picks ephemeral ports) and two
// `highway serve` (17180 on node 2, 17181 on node 3). The first serve
// migrates a token file; revocations sent to node 1 are refused by both
// API servers within a second (the time is printed); the leader is
// SIGKILLed while `highway grant add` is in flight, and the grant is on
// both survivors exactly when the command says it applied.
func TestControlPlaneProcesses(t *testing.T) {
	dsn := testenv.Database(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "highway")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building highway: %v\n%s", err, out)
	}
	const secret = "s3cret-of-the-test"
	env := append(os.Environ(), "HIGHWAY_CONTROL_SECRET="+secret, "HIGHWAY_CLICKHOUSE="+dsn)
	var procs []*proc
	start := func(name string, args ...string) *proc {
		p := &proc{name: name, cmd: exec.Command(bin, args...), log: &bytes.Buffer{}}
		p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, p.log, p.log
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		return p
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				_ = p.cmd.Wait()
			}
			if t.Failed() {
				t.Logf("--- %s:\n%s", p.name, lastLines(p.log.String(), 30))
			}
		}
	})
	nodes := map[string]*proc{}
	httpOf := map[string]string{}
	for i, id := range []string{"n1", "n2", "n3"} {
		args := []string{"schedule", "--id", id, "--raft-addr", fmt.Sprintf("127.0.0.1:%d", 17001+i), "--http-addr", fmt.Sprintf("127.0.0.1:%d", 17081+i),
			"--data-dir", filepath.Join(dir, id), "--jobs", "none", "--election-timeout", "500ms", "--log-level", "warn"}
		if i == 0 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", "127.0.0.1:17081")
		}
		nodes[id] = start(id, args...)
		httpOf[id] = fmt.Sprintf("127.0.0.1:%d", 17081+i)
	}
	waitFor(t, 60*time.Second, "three members", func() bool {
		var v struct{ Members []struct{ ID string } }
		return getJSON("http://127.0.0.1:17081/api/v1/cluster", "", &v) == nil && len(v.Members) == 3
	})

	// A token file from before the control plane.
	tokensFile := filepath.Join(dir, "tokens.json")
	tf, err := api.OpenTokenFile(tokensFile)
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := tf.Create("TD", "from the file")
	if err != nil {
		t.Fatal(err)
	}
	start("serve-a", "serve", "--addr", "127.0.0.1:17180", "--control-plane", httpOf["n2"], "--tokens-file", tokensFile, "--log-level", "warn")
	start("serve-b", "serve", "--addr", "127.0.0.1:17181", "--control-plane", httpOf["n3"], "--tokens-file", filepath.Join(dir, "none.json"), "--log-level", "warn")
	apis := []string{"http://127.0.0.1:17180", "http://127.0.0.1:17181"}
	for _, a := range apis {
		waitFor(t, 60*time.Second, a+" ready", func() bool { return status(a+"/readyz", "") == http.StatusOK })
	}
	// The file's token, migrated by serve-a, works on serve-b too.
	waitFor(t, 5*time.Second, "the migrated token on serve-b", func() bool { return status(apis[1]+"/api/v1/me", old) == http.StatusOK })

	cl, err := control.NewClient([]string{httpOf["n1"]}, secret)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bad, _ := control.NewClient([]string{httpOf["n1"]}, "wrong")
	if _, err := bad.State(ctx); !errors.Is(err, control.ErrUnauthorized) {
		t.Errorf("a wrong secret reading the control plane: %v, want ErrUnauthorized", err)
	}
	var took []time.Duration
	for range 5 {
		tok, info, err := cl.CreateWith(ctx, "TD", api.TokenSpec{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range apis {
			waitFor(t, 2*time.Second, "a new token on "+a, func() bool { return status(a+"/api/v1/me", tok) == http.StatusOK })
		}
		t0 := time.Now()
		if err := cl.Revoke(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		for _, a := range apis {
			waitFor(t, time.Second, "the revocation on "+a, func() bool { return status(a+"/api/v1/me", tok) == http.StatusUnauthorized })
			took = append(took, time.Since(t0))
		}
	}
	slices.Sort(took)
	fmt.Printf("revoke_propagation processes=3+2 revocations=5 median_ms=%.1f max_ms=%.1f\n", ms(took[len(took)/2]), ms(took[len(took)-1]))

	// The leader killed with a grant in flight.
	var v struct{ Leader string }
	if err := getJSON("http://127.0.0.1:17081/api/v1/cluster", "", &v); err != nil || nodes[v.Leader] == nil {
		t.Fatalf("no leader: %v %+v", err, v)
	}
	order := []string{httpOf[v.Leader]}
	var survivors []string
	for _, id := range []string{"n1", "n2", "n3"} {
		if id != v.Leader {
			order = append(order, httpOf[id])
			survivors = append(survivors, httpOf[id])
		}
	}
	spec := filepath.Join(dir, "police.yaml")
	writeFile(t, spec, "kind: feed\nname: police.cases\ndepartment: POLICE\naccess: restricted\nfields:\n  - {name: case_id, type: string, required: true}\n  - {name: at, type: time, required: true}\nkey: [case_id]\nevent_time: at\ninterval: 1h\n")
	grant := exec.Command(bin, "grant", "add", "--department", "TD", "--feed", "police.cases", "--for", "30d", "--control-plane", strings.Join(order, ","), "--specs", spec)
	grant.Env = env
	var out bytes.Buffer
	grant.Stdout, grant.Stderr = &out, &out
	if err := grant.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // the CLI starts, loads the catalogue, sends the change
	_ = nodes[v.Leader].cmd.Process.Kill()
	_ = nodes[v.Leader].cmd.Wait()
	err = grant.Wait()
	said := strings.TrimSpace(out.String())
	t.Logf("leader %s SIGKILLed 30 ms after 'highway grant add' started; it said (exit %v): %s", v.Leader, err, said)
	want := 1
	switch {
	case err == nil && strings.Contains(said, "applied on the control plane"):
	case err != nil && strings.Contains(said, "NOT applied"):
		want = 0
	default:
		t.Fatalf("the command neither says the grant applied nor that it did not: %v: %s", err, said)
	}
	waitFor(t, 3*time.Second, fmt.Sprintf("the grant %d times on both survivors", want), func() bool {
		for _, s := range survivors {
			var st control.State
			if getJSON("http://"+s+control.Path, secret, &st) != nil {
				return false
			}
			n := 0
			for _, g := range st.Grants {
				if g.Department == "TD" && g.Feed == "police.cases" {
					n++
				}
			}
			if n != want {
				return false
			}
		}
		return true
	})
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func status(url, token string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getJSON(url, secret string, v any) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
