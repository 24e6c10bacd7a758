package main

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cityhighway/highway/ops/bench/benchproc"
)

// child is a `highway process` running as a child of this program, so that
// its CPU time and peak RSS are measured apart from everything else.
type child struct {
	*benchproc.Child
	hwm atomic.Int64 // highest VmHWM sampled
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
	c := &child{}
	pc, err := benchproc.Start(bin, args, logPath, 200*time.Millisecond, c.sampleHWM)
	if err != nil {
		return nil, err
	}
	c.Child = pc
	return c, nil
}

// alive reports whether the child is still running.
func (c *child) alive() bool { return c.Alive() }

// sampleHWM records the VmHWM of the process pid if it is higher than the
// last.
func (c *child) sampleHWM(pid int) {
	v := procStatusBytes(pid, "VmHWM")
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
		c.sampleHWM(c.Pid())
		c.Stop(20 * time.Second)
	}
	u := usage{Wall: time.Since(c.Started), VmHWM: c.hwm.Load(), ExitErr: c.WaitErr()}
	u.CPU, u.MaxRSS, _ = c.Rusage()
	return u
}

// failure describes an unexpected exit with the end of the child's log.
func (c *child) failure() error { return c.Failure(20) }

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
