package wire

// QueryRequest is the body of POST /api/v1/query.
type QueryRequest struct {
	SQL string `json:"sql"`
	// Format is json (default), ndjson, csv or arrow (an Arrow IPC stream).
	Format string `json:"format,omitempty"`
}
