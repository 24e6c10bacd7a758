package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// supervisor keeps one `highway process` running, as systemd's
// Restart=always would: when the child exits by itself (say, because
// ClickHouse was down when it started) it is started again after a second,
// and the exit is recorded; when the chaos kills it, it is started again
// after the delay the chaos asks for.
type supervisor struct {
	bin  string
	args []string
	dir  string
	log  *slog.Logger

	mu        sync.Mutex
	cur       *exec.Cmd
	curLog    string
	upSince   time.Time
	killed    bool          // the current child was killed on purpose
	delay     time.Duration // before the next start, after a kill
	starts    int
	kills     int
	selfExits []string
	done      chan struct{}
}

func newSupervisor(bin string, args []string, dir string, log *slog.Logger) *supervisor {
	return &supervisor{bin: bin, args: args, dir: dir, log: log, done: make(chan struct{})}
}

// run keeps a child running until ctx ends, then stops it with SIGTERM
// (SIGKILL after 20 s) and returns.
func (s *supervisor) run(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		s.mu.Lock()
		s.starts++
		logPath := filepath.Join(s.dir, fmt.Sprintf("highway-%03d.log", s.starts))
		s.mu.Unlock()
		out, err := os.Create(logPath)
		if err != nil {
			s.log.Error("cannot create the child's log; retrying", "path", logPath, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		cmd := exec.Command(s.bin, append([]string{"process"}, s.args...)...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			out.Close()
			s.log.Error("cannot start highway process; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		s.mu.Lock()
		s.cur, s.curLog, s.upSince, s.killed = cmd, logPath, time.Now(), false
		s.mu.Unlock()

		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var werr error
		select {
		case werr = <-exited:
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case werr = <-exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				werr = <-exited
			}
			out.Close()
			if werr != nil {
				s.log.Warn("highway process did not stop cleanly on SIGTERM", "err", werr, "log", logPath)
			}
			return
		}
		out.Close()
		s.mu.Lock()
		killed, delay := s.killed, s.delay
		s.cur = nil
		if !killed {
			why := fmt.Sprintf("%v: %s", werr, lastLine(logPath))
			s.selfExits = append(s.selfExits, why)
			s.log.Warn("highway process exited by itself; restarting it in 1 s", "err", werr, "log", logPath, "last_line", lastLine(logPath))
			delay = time.Second
		}
		s.mu.Unlock()
		sleep(ctx, delay)
	}
}

// kill SIGKILLs the current child, if one is running, and has the next one
// start after delay. It returns how long the child had been up, and false
// when no child was running.
func (s *supervisor) kill(delay time.Duration) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0, false
	}
	s.killed, s.delay = true, delay
	_ = s.cur.Process.Signal(syscall.SIGKILL)
	s.kills++
	return time.Since(s.upSince), true
}

// waitAssigned waits, at most max, until the current child has been
// assigned partitions (it logs "partition assigned"), so that a kill lands
// on a processor that is fetching and inserting rather than on one still
// waiting for the group to rebalance. It reports whether it was.
func (s *supervisor) waitAssigned(ctx context.Context, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		s.mu.Lock()
		path, running := s.curLog, s.cur != nil
		s.mu.Unlock()
		if running {
			if data, err := os.ReadFile(path); err == nil && strings.Contains(string(data), `msg="partition assigned"`) {
				return true
			}
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return false
}

// uptime is how long the current child has been running (0 if none).
func (s *supervisor) uptime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0
	}
	return time.Since(s.upSince)
}

// counts returns the starts, kills and self-exits so far.
func (s *supervisor) counts() (starts, kills int, selfExits []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts, s.kills, append([]string(nil), s.selfExits...)
}

// lastLine returns the last non-empty line of a file, shortened.
func lastLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	l := lines[len(lines)-1]
	if len(l) > 300 {
		l = l[:300] + "…"
	}
	return l
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
