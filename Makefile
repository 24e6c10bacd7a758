# The two commands of the README: `make dev` runs the platform on this
# machine, `make test` runs every test against real Kafka and ClickHouse.

GO ?= go
BIN := bin/highway

.PHONY: dev test build services-up services-down bench clean

build: ## build the one binary into bin/highway
	$(GO) build -o $(BIN) ./cmd/highway

dev: build ## run the platform: embedded Kafka, local ClickHouse, simulated feeds, API on :8080
	ops/clickhouse/install
	$(BIN) dev

test: ## install and start Kafka and ClickHouse, run every test, stop them
	ops/test

services-up: ## start real Kafka and ClickHouse for manual work (prints the env)
	ops/services up

services-down: ## stop them
	ops/services down

clean:
	rm -rf bin
