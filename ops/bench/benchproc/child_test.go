package benchproc

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHighway writes a script that stands in for the highway binary: it
// prints its arguments and runs until killed, or exits 3 with fail.
func fakeHighway(t *testing.T, fail bool) string {
	t.Helper()
	body := "#!/bin/sh\necho \"args: $*\"\ntrap 'exit 0' TERM\nwhile :; do sleep 0.05; done\n"
	if fail {
		body = "#!/bin/sh\necho boom\nexit 3\n"
	}
	path := filepath.Join(t.TempDir(), "highway")
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestChild(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	var samples atomic.Int64
	c, err := Start(fakeHighway(t, false), []string{"--feeds", "x"}, log, 10*time.Millisecond, func(pid int) {
		if StatusBytes(pid, "VmRSS") > 0 {
			samples.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); samples.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !c.Alive() || samples.Load() < 2 {
		t.Fatalf("alive %v after %d samples", c.Alive(), samples.Load())
	}
	if _, _, ok := c.Rusage(); ok {
		t.Error("Rusage of a running child")
	}
	c.Stop(5 * time.Second)
	if c.Alive() || c.WaitErr() != nil {
		t.Errorf("after Stop: alive %v, exit %v", c.Alive(), c.WaitErr())
	}
	if _, rss, ok := c.Rusage(); !ok || rss <= 0 {
		t.Errorf("Rusage: maxrss %d, ok %v", rss, ok)
	}
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), "args: process --feeds x") {
		t.Errorf("log %q: want the process subcommand and the arguments", b)
	}
}

func TestChildFailure(t *testing.T) {
	c, err := Start(fakeHighway(t, true), nil, filepath.Join(t.TempDir(), "child.log"), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); c.Alive() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if c.Alive() {
		t.Fatal("still running")
	}
	if msg := c.Failure(5).Error(); !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "boom") {
		t.Errorf("Failure: %s", msg)
	}
}
