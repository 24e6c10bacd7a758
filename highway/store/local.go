package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ErrNoServerBinary is returned by StartLocal when clickhouse-server is not
// installed.
var ErrNoServerBinary = errors.New("clickhouse-server is not installed: install it with `apt-get install clickhouse-server` (or run `make dev`, which does), or pass --clickhouse with the DSN of a running server")

// LocalServer is a clickhouse-server child process with a private config and
// data folder, for `highway dev`.
type LocalServer struct {
	// DSN connects to the server as its administrator.
	DSN string
	// ReaderDSN connects as highway_reader, a user that cannot write
	// (readonly=2) and reads every database: the one for the queries of
	// callers granted restricted data.
	ReaderDSN string
	// OpenReaderDSN connects as highway_open, a user that cannot write and
	// whose allow_databases lists only the open database ("default"), not
	// its restricted database: the one for open data and for every other
	// query. ClickHouse itself refuses it restricted rows and the audit log.
	OpenReaderDSN string
	cmd           *exec.Cmd
	dir           string
	log           *slog.Logger
}

// StartLocal starts clickhouse-server on 127.0.0.1:port with its data, logs
// and config under dir, and waits until it answers. Data survives restarts.
func StartLocal(ctx context.Context, dir string, port int, log *slog.Logger) (*LocalServer, error) {
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return nil, ErrNoServerBinary
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		conn.Close()
		return nil, fmt.Errorf("port %d is already in use: stop what listens there, pick another with --clickhouse-port, or pass --clickhouse clickhouse://127.0.0.1:%d/default to use that server", port, port)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("creating ClickHouse folder: %w", err)
		}
	}
	config := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(config, []byte(localConfig(dir, port)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(localUsers), 0o644); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "logs", "stdout.log"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(bin, "--config-file="+config)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us; we stop it in order
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting clickhouse-server: %w", err)
	}
	s := &LocalServer{DSN: fmt.Sprintf("clickhouse://127.0.0.1:%d/default", port),
		ReaderDSN:     fmt.Sprintf("clickhouse://%s@127.0.0.1:%d/default", ReaderUser, port),
		OpenReaderDSN: fmt.Sprintf("clickhouse://%s@127.0.0.1:%d/default", OpenReaderUser, port),
		cmd:           cmd, dir: dir, log: log}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("clickhouse-server exited during start-up (%v); see %s", err, filepath.Join(dir, "logs"))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := Open(pctx, s.DSN, log)
		cancel()
		if err == nil {
			st.Close()
			log.Info("local ClickHouse ready", "dsn", s.DSN, "data", dir)
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("clickhouse-server did not answer within 60s; see %s: %w", filepath.Join(dir, "logs"), err)
		}
	}
}

// Stop asks the server to shut down and waits up to 20 seconds.
func (s *LocalServer) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for s.cmd.ProcessState == nil {
			if err := s.cmd.Process.Signal(syscall.Signal(0)); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	s.log.Info("local ClickHouse stopped")
}

func localConfig(dir string, port int) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<!-- Written by highway dev; rewritten at every start. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/logs/clickhouse-server.log</log>
    <errorlog>%[1]s/logs/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`, dir, port, port+1)
}

// The ClickHouse users of the API that highway dev's server and
// ops/clickhouse/start define.
const (
	// ReaderUser reads every database, readonly=2: for callers granted
	// restricted data.
	ReaderUser = "highway_reader"
	// OpenReaderUser reads only the open database "default" (and system),
	// readonly=2: for open data and callers without restricted grants.
	OpenReaderUser = "highway_open"
)

// localUsers is the users.xml of highway dev's server, the same file
// ops/clickhouse/config.sh gives the servers it configures.
//
//go:embed local_users.xml
var localUsers string
