package wire

// ErrorBody is the body of every error answer of the API: what went wrong
// and a hint on how to fix it, with details where a route has them.
type ErrorBody struct {
	Error string `json:"error"`
	Hint  string `json:"hint"`
	// Code and Position locate a refused query.
	Code     string `json:"code,omitempty"`
	Position *int   `json:"position,omitempty"`
	// ClickHouseCode is ClickHouse's error code when ClickHouse refused.
	ClickHouseCode int32 `json:"clickhouse_code,omitempty"`
}
