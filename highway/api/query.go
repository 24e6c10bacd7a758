package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cityhighway/highway/highway/api/sqlguard"
	"github.com/cityhighway/highway/highway/api/wire"
	"github.com/cityhighway/highway/highway/store"
)

// QueryRequest is the body of POST /api/v1/query (wire.QueryRequest, which
// the API's clients send).
type QueryRequest = wire.QueryRequest

// maxQueryBody bounds the body of POST /api/v1/query.
const maxQueryBody = 1 << 20

func (s *Server) query(w http.ResponseWriter, r *http.Request, who *principal) {
	if s.limited(w, s.tokenRL, who.token.ID, "per token") {
		return
	}
	var req QueryRequest
	if !readJSON(w, r, maxQueryBody, &req) {
		return
	}
	format, err := store.ParseFormat(req.Format)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), `set "format" to json, ndjson, csv or arrow`)
		return
	}
	start := time.Now()
	entry := store.AuditEntry{At: s.cfg.Now(), Department: who.dept.Name, TokenID: who.token.ID, Client: s.clientAddr(r),
		Action: "query", Route: "POST /api/v1/query", Detail: req.SQL}
	defer func() {
		entry.Duration = time.Since(start)
		s.audit(entry)
	}()
	res, err := sqlguard.Check(req.SQL, s.acl().view(who.dept).policy)
	if err != nil {
		var rej *sqlguard.Rejection
		if !errors.As(err, &rej) {
			rej = &sqlguard.Rejection{Code: "internal", Reason: err.Error()}
		}
		s.metrics.queryRejected.WithLabelValues(rej.Code).Inc()
		pos := rej.Pos
		entry.Status, entry.Error = http.StatusBadRequest, rej.Error()
		writeJSON(w, http.StatusBadRequest, errorBody{
			Error: "query refused: " + rej.Reason, Code: rej.Code, Position: &pos,
			Hint: "one read-only SELECT over the tables GET /api/v1/me lists; " + near(req.SQL, pos),
		})
		return
	}
	entry.Feed = strings.Join(res.Tables, ",")
	if s.cfg.Querier == nil {
		entry.Status = http.StatusServiceUnavailable
		writeError(w, http.StatusServiceUnavailable, "queries are not available: this server has no ClickHouse", "start highway serve with --clickhouse")
		return
	}
	lw := &lazyWriter{w: w, contentType: format.ContentType()}
	st, err := s.querier(res, s.acl().view(who.dept).policy).Query(r.Context(), req.SQL, s.cfg.QueryLimits, format, lw)
	entry.Rows, entry.Bytes = st.Rows, uint64(max(st.Written, 0))
	entry.Status = s.queryFailed(w, lw, err)
	if err != nil {
		entry.Error = err.Error()
	}
	if lw.mustCutOff(format, err) {
		cutOff(lw) // the deferred audit still records the query
	}
}

// queryFailed answers a query's error if nothing was written yet, and
// returns the status the caller saw.
func (s *Server) queryFailed(w http.ResponseWriter, lw *lazyWriter, err error) int {
	if err == nil {
		if !lw.started {
			lw.start()
		}
		return http.StatusOK
	}
	if lw.started {
		// Too late for a status: json and ndjson carry the error at the
		// end of the body; csv and arrow cannot, so the caller cuts the
		// response off (see cutOff).
		s.cfg.Logger.Warn("query failed after its first rows", "err", err)
		return http.StatusOK
	}
	var qe *store.QueryError
	switch {
	case errors.As(err, &qe):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "ClickHouse refused the query: " + qe.Message, ClickHouseCode: qe.Code,
			Hint: "the query is at fault: fix it, or narrow it if it hit a limit (time, rows, bytes, memory)"})
		return http.StatusBadRequest
	case errors.Is(err, store.ErrUnsupportedType):
		writeError(w, http.StatusBadRequest, err.Error(), "convert the column in the query, for example with toString()")
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads this
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "the query took too long", "narrow the query")
		return http.StatusGatewayTimeout
	}
	s.cfg.Logger.Error("query failed", "err", err)
	writeError(w, http.StatusBadGateway, "ClickHouse is not answering: "+err.Error(), "try again later; if it persists, tell the operators")
	return http.StatusBadGateway
}

// near quotes the statement around byte pos, for hints.
func near(sql string, pos int) string {
	if pos < 0 || pos > len(sql) {
		return ""
	}
	end := min(pos+24, len(sql))
	return fmt.Sprintf("the problem is at byte %d: %q", pos, sql[pos:end])
}

// lazyWriter sets the content type and the 200 status on the first write,
// so a query that fails before its first row can still be answered with an
// error status.
type lazyWriter struct {
	w           http.ResponseWriter
	contentType string
	disposition string
	started     bool
}

func (l *lazyWriter) start() {
	l.started = true
	h := l.w.Header()
	h.Set("Content-Type", l.contentType)
	if l.disposition != "" {
		h.Set("Content-Disposition", l.disposition)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	l.w.WriteHeader(http.StatusOK)
}

// mustCutOff reports whether a response must be cut off because its query
// failed after the first rows went out in format f, which has no place for
// the error: CSV, and Arrow (whose reader would otherwise see batches and
// no error). json and ndjson end with the error instead (see store.Format).
func (l *lazyWriter) mustCutOff(f store.Format, err error) bool {
	return err != nil && l.started && (f == store.FormatCSV || f == store.FormatArrow)
}

// cutOff sends what has been written and ends the response without its
// proper end: the connection is closed before the last chunk (HTTP/1.1) or
// the stream is reset (HTTP/2), so that clients see a broken transfer
// (curl exits with 18, Go's readers get io.ErrUnexpectedEOF) instead of a
// result that looks complete. It does not return.
func cutOff(l *lazyWriter) {
	_ = http.NewResponseController(l.w).Flush()
	panic(http.ErrAbortHandler)
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	return l.w.Write(p)
}
