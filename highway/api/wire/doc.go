// Package wire is the JSON of the Highway API that its clients read: the
// catalogue's feeds and fields, the query request and the error body. The
// server (highway/api) writes these types and the Grafana plugin's client
// (plugins/grafana/pkg/apiclient) reads them, so the two cannot drift: a
// field renamed here is renamed on both sides, or neither compiles.
//
// The package is small on purpose: it imports only highway/catalog (the
// specs the feeds are made of), never the store, the bus or a client of an
// external system, so a client that imports it links none of them. What only
// the server knows (the processors' counts, the ledger's score) stays in
// highway/api, on top of these types.
package wire
