// Package chdb runs SQL on current ClickHouse in-process, through chdb (the
// ClickHouse engine as a Python library, installed by ops/chdb/install), so
// tests can check that what the platform generates for ClickHouse 18.16
// also runs on the releases users run today. A Session is one chdb session
// in a child process (ops/chdb/runner.py --serve): statements run in order
// and see each other's tables, as on a server.
package chdb

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
)

// Session is one chdb session. It is safe for concurrent use; statements
// run one at a time, in the order they are sent.
type Session struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *strings.Builder
	n      int // requests sent
}

// Error is a statement that chdb refused, with its error.
type Error struct {
	SQL     string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("chdb refused %q: %s", e.SQL, e.Message) }

// Start starts a session: python runs runner (ops/chdb/runner.py) in
// --serve mode. The session ends with Close, or when ctx ends.
func Start(ctx context.Context, python, runner string) (*Session, error) {
	cmd := exec.CommandContext(ctx, python, runner, "--serve")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("chdb: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("chdb: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chdb: starting %s %s: %w", python, runner, err)
	}
	return &Session{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), stderr: &stderr}, nil
}

type request struct {
	SQL    string `json:"sql"`
	Format string `json:"format,omitempty"`
}

type answer struct {
	I     int    `json:"i"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Data  string `json:"data"`
}

// run sends one statement and waits for its answer; format, if set, is
// the ClickHouse output format of the data it returns.
func (s *Session) run(sql, format string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(request{SQL: sql, Format: format})
	if err != nil {
		return "", fmt.Errorf("chdb: %w", err)
	}
	if _, err := s.in.Write(append(b, '\n')); err != nil {
		return "", fmt.Errorf("chdb: sending a statement: %w (runner's stderr: %s)", err, s.stderr.String())
	}
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("chdb: reading the answer: %w (runner's stderr: %s)", err, s.stderr.String())
	}
	var a answer
	if err := json.Unmarshal(line, &a); err != nil {
		return "", fmt.Errorf("chdb: the runner answered %q: %w", line, err)
	}
	if a.I != s.n {
		return "", fmt.Errorf("chdb: answer %d to request %d", a.I, s.n)
	}
	s.n++
	if !a.OK {
		return "", &Error{SQL: sql, Message: a.Error}
	}
	return a.Data, nil
}

// Exec runs a statement that returns nothing the caller reads. A statement
// chdb refuses returns an *Error.
func (s *Session) Exec(sql string) error {
	_, err := s.run(sql, "")
	return err
}

// Text runs a statement and returns its output in ClickHouse's format
// (TabSeparatedRaw, JSONEachRow, ...).
func (s *Session) Text(sql, format string) (string, error) {
	return s.run(sql, format)
}

// Result is the answer of Query: column names and types, and rows of JSON
// values as ClickHouse's JSONCompact formats write them (numbers of 64 bits
// are quoted strings, times are "YYYY-MM-DD hh:mm:ss[.fff]" strings).
type Result struct {
	Names, Types []string
	Rows         [][]json.RawMessage
}

// Query runs a SELECT and returns its result.
func (s *Session) Query(sql string) (*Result, error) {
	data, err := s.run(sql, "JSONCompactEachRowWithNamesAndTypes")
	if err != nil {
		return nil, err
	}
	var res Result
	for i, line := range strings.Split(strings.TrimRight(data, "\n"), "\n") {
		if line == "" {
			continue
		}
		switch i {
		case 0:
			err = json.Unmarshal([]byte(line), &res.Names)
		case 1:
			err = json.Unmarshal([]byte(line), &res.Types)
		default:
			var row []json.RawMessage
			err = json.Unmarshal([]byte(line), &row)
			res.Rows = append(res.Rows, row)
		}
		if err != nil {
			return nil, fmt.Errorf("chdb: reading line %d of the result of %q: %w", i+1, sql, err)
		}
	}
	return &res, nil
}

// Close ends the session and its process.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.in.Close()
	err := s.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("chdb: the runner exited with %v: %s", err, s.stderr.String())
	}
	return err
}
