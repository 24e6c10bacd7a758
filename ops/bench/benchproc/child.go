package benchproc

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Child is a `highway process` that a benchmark runs as its own child, so
// that its CPU time and memory are measured apart from everything else;
// its output goes to a log file. ops/bench/ingestbench and
// ops/bench/feedsbench wrap it with what each measures.
type Child struct {
	// Started is when the child was started; a benchmark may move it to
	// when the part it measures begins. Set before Start returns, read by
	// the benchmark's goroutine only.
	Started time.Time
	// LogPath is the file holding the child's stdout and stderr.
	LogPath string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// Start runs `bin process args...` with its output in logPath. When sample
// is not nil it is called with the child's pid every interval, from a
// goroutine of its own, until the child exits.
func Start(bin string, args []string, logPath string, every time.Duration, sample func(pid int)) (*Child, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", logPath, err)
	}
	cmd := exec.Command(bin, append([]string{"process"}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s process: %w", bin, err)
	}
	c := &Child{Started: time.Now(), LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		out.Close()
		close(c.exited)
	}()
	if sample != nil {
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-c.exited:
					return
				case <-t.C:
					sample(cmd.Process.Pid)
				}
			}
		}()
	}
	return c, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Alive reports whether the child is still running.
func (c *Child) Alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM to a running child and waits for it to exit, at most
// grace before SIGKILL.
func (c *Child) Stop(grace time.Duration) {
	if !c.Alive() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// WaitErr is how the child exited (nil for a clean exit); only meaningful
// once Alive is false.
func (c *Child) WaitErr() error {
	if c.Alive() {
		return nil
	}
	return c.waitErr
}

// Rusage is what the kernel accounted to the child that has exited: CPU
// time (user + system) and getrusage's ru_maxrss in bytes; ok is false
// while it runs.
func (c *Child) Rusage() (cpu time.Duration, maxRSS int64, ok bool) {
	if c.Alive() {
		return 0, 0, false
	}
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss * 1024, true
}

// Failure describes an unexpected exit with the last lines of the log.
func (c *Child) Failure(lines int) error {
	return fmt.Errorf("highway process exited (%v); last lines of %s:\n%s", c.WaitErr(), c.LogPath, Tail(c.LogPath, lines))
}
