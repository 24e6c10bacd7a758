// Package deploy holds the deployment files' test: compose_test.go loads
// the root's docker-compose.yml (with .env) through compose-go and checks
// every highway service's command, flags, ports, environment and
// dependencies against the binary's --help, and the ClickHouse, Keeper and
// Grafana files it mounts against the store's users and tables. The
// ClickHouse and Keeper configs themselves are in deploy/clickhouse.
package deploy
