#!/usr/bin/env python3
"""Runs SQL statements in one chdb session (ClickHouse in-process), in order.

Statements and answers are JSON lines. A request is an object with "sql"
(the statement, without a FORMAT clause), and optionally "format" (a
ClickHouse output format: the answer then carries the statement's output as
the string "data") and "label" (copied into the answer, to say where the
statement came from). An answer is {"i": N, "ok": true} or
{"i": N, "ok": false, "error": "..."}, N counting requests from 0.

    runner.py FILE       runs every request of FILE (JSON lines), prints an
                         answer per request, and exits 1 if any failed
    runner.py --serve    answers requests from stdin one at a time, flushing
                         each answer, until stdin ends (for test harnesses
                         whose next statement depends on the last answer)
    runner.py --version  prints the ClickHouse version chdb runs

The session lives in a temporary directory removed at exit, so DDL, inserts
and queries see each other in order, as on a server, and nothing is kept.
"""

import json
import shutil
import sys
import tempfile


def answer(sess, i, req):
    """Runs one request and returns its answer."""
    out = {"i": i}
    if "label" in req:
        out["label"] = req["label"]
    sql = req.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        out.update(ok=False, error='request has no "sql"')
        return out
    fmt = req.get("format") or "TabSeparated"
    try:
        res = sess.query(sql, fmt)
    except Exception as e:  # chdb raises its engine's errors as exceptions
        out.update(ok=False, error=str(e).strip())
        return out
    err = res.error_message() if hasattr(res, "error_message") else ""
    if err:
        out.update(ok=False, error=err.strip())
        return out
    out["ok"] = True
    if req.get("format"):
        out["data"] = res.bytes().decode("utf-8", "replace")
    return out


def requests(lines):
    """Yields (request, None) per non-blank JSON line, (None, error) for a bad one."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            yield None, "line %d: not a JSON request object: %s" % (n, e)
            continue
        yield req, None


def run(sess, lines, out, stop_on_bad_line):
    """Answers every request of lines on out; returns how many failed."""
    failed = 0
    for i, (req, bad) in enumerate(requests(lines)):
        a = {"i": i, "ok": False, "error": bad} if bad else answer(sess, i, req)
        if not a["ok"]:
            failed += 1
        out.write(json.dumps(a) + "\n")
        out.flush()
        if bad and stop_on_bad_line:
            break
    return failed


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 0 if len(argv) == 2 else 2
    try:
        from chdb import session
    except ImportError as e:
        print("runner.py: chdb is not installed in %s (run ops/chdb/install): %s" % (sys.executable, e), file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="highway-chdb-")
    sess = session.Session(tmp)
    try:
        if argv[1] == "--version":
            print(sess.query("SELECT version()", "TabSeparated").bytes().decode().strip())
            return 0
        if argv[1] == "--serve":
            run(sess, sys.stdin, sys.stdout, False)
            return 0
        try:
            f = open(argv[1], encoding="utf-8")
        except OSError as e:
            print("runner.py: %s" % e, file=sys.stderr)
            return 2
        with f:
            return 1 if run(sess, f, sys.stdout, False) else 0
    finally:
        sess.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
