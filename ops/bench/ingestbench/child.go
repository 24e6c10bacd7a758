package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cityhighway/highway/ops/bench/benchproc"
)

// child is a `highway process` running as a child of this program, so that
// its CPU time and peak RSS are measured apart from everything else.
type child struct {
	cmd     *exec.Cmd
	logPath string
	started time.Time
	exited  chan struct{}
	waitErr error
	hwm     atomic.Int64 // highest VmHWM sampled
}

// usage is what the kernel accounted to a child that has exited.
type usage struct {
	CPU time.Duration // user + system
	// MaxRSS is getrusage's ru_maxrss, in bytes. It is NOT the child's own
	// figure: Go starts children with vfork semantics (CLONE_VM), and Linux
	// folds the high-water mark of the shared, pre-exec memory (this
	// program's) into it at exec. Kept only as a cross-check.
	MaxRSS int64
	// VmHWM is the child's own peak RSS in bytes (/proc/<pid>/status, the
	// high-water mark of its address space after exec), sampled every
	// 200 ms and just before the stop.
	VmHWM   int64
	Wall    time.Duration
	ExitErr error
}

// startHighway runs `highway process` with args, logging to logPath.
func startHighway(bin string, args []string, logPath string) (*child, error) {
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
	c := &child{cmd: cmd, logPath: logPath, started: time.Now(), exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		out.Close()
		close(c.exited)
	}()
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-c.exited:
				return
			case <-t.C:
				c.sampleHWM()
			}
		}
	}()
	return c, nil
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// alive reports whether the child is still running.
func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// sampleHWM records the child's VmHWM if it is higher than the last.
func (c *child) sampleHWM() {
	v := procStatusBytes(c.pid(), "VmHWM")
	for {
		old := c.hwm.Load()
		if v <= old || c.hwm.CompareAndSwap(old, v) {
			return
		}
	}
}

// stop sends SIGTERM, waits up to 20 s (then SIGKILL) and returns the
// child's resource usage.
func (c *child) stop() usage {
	if c.alive() {
		c.sampleHWM()
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(20 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	u := usage{Wall: time.Since(c.started), VmHWM: c.hwm.Load(), ExitErr: c.waitErr}
	if ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		u.MaxRSS = ru.Maxrss * 1024
	}
	return u
}

// failure describes an unexpected exit with the end of the child's log.
func (c *child) failure() error {
	return fmt.Errorf("highway process exited early (%v); end of %s:\n%s", c.waitErr, c.logPath, tail(c.logPath, 20))
}

// tail, procStatusBytes and procCPU are ops/bench/benchproc's, shared
// with ops/bench/feedsbench.
func tail(path string, n int) string { return benchproc.Tail(path, n) }

func procStatusBytes(pid int, key string) int64 { return benchproc.StatusBytes(pid, key) }

func procCPU(pid int) (time.Duration, error) { return benchproc.CPU(pid) }

// cpuMeter measures the CPU time a non-child process spends between start
// and stop; it reads 0 when no pid is known.
type cpuMeter struct {
	pid   int
	begin time.Duration
}

func newCPUMeter(pidFile string) *cpuMeter {
	m := &cpuMeter{}
	if pidFile == "" {
		return m
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return m
	}
	m.pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	if m.pid > 0 {
		m.begin, _ = procCPU(m.pid)
	}
	return m
}

// selfCPUMeter measures this process's own CPU time.
func selfCPUMeter() *cpuMeter {
	m := &cpuMeter{pid: os.Getpid()}
	m.begin, _ = procCPU(m.pid)
	return m
}

// since returns the CPU time spent since the meter was made.
func (m *cpuMeter) since() time.Duration {
	if m.pid <= 0 {
		return 0
	}
	now, err := procCPU(m.pid)
	if err != nil {
		return 0
	}
	return now - m.begin
}

// loadavg returns the 1-minute load average.
func loadavg() string { return strings.Fields(benchproc.Loadavg())[0] }
