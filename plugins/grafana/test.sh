#!/usr/bin/env bash
# Builds and tests the Grafana plugin; what ops/test calls. Idempotent.
#
#   1. npm ci when node_modules is missing or older than package-lock.json
#   2. npm run build: type check, dist/module.js (AMD), plugin.json, img, dashboards
#   3. frontend tests (vitest: editors, datasource, variables, dist/module.js loads as AMD)
#   4. the Go backend for linux/amd64 and linux/arm64 into dist/gpx_highway_linux_<arch>
#   5. Go unit tests of the backend, and the contract test that starts the built
#      binary the way Grafana does (go-plugin handshake, gRPC)
#
# The backend is a Go module of its own (go.mod here; the platform's packages
# come from this checkout through its replace directive). Its integration tests
# (real API on real ClickHouse) are tagged `integration`; INTEGRATION=1 runs
# them too (needs `eval "$(ops/services up)"` first), as ops/test does. ops/test
# also vets this module and fuzzes its targets.
#
# Needs Node 20.19+ with npm, Go, and network to the npm registry on the first run.
set -euo pipefail
cd "$(dirname "$0")"
started=$(date +%s)
step() { printf '\n==> grafana plugin: %s (%ss)\n' "$*" "$(( $(date +%s) - started ))" >&2; }

# npm writes node_modules/.package-lock.json on every install; a lock file
# newer than it means the dependencies changed since.
step "dependencies"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
else
  echo "node_modules is up to date with package-lock.json" >&2
fi
# Some npm packages ship Go files (flatted does); a go.mod makes node_modules
# a module of its own, so this module's `go vet ./...` and `go list ./...`
# leave it alone.
printf 'module ignore/node_modules\n' > node_modules/go.mod

step "frontend build"
npm run --silent build

step "backend build (linux/amd64, linux/arm64)"
# Static binaries (CGO_ENABLED=0) for any Linux Grafana image. The tests
# below use the same settings, so they reuse the compiled packages.
export CGO_ENABLED=0
for arch in amd64 arm64; do
  GOOS=linux GOARCH="$arch" go build -ldflags "-s -w" -o "dist/gpx_highway_linux_${arch}" ./pkg
done
# go-plugin starts the executable named in plugin.json plus _<os>_<arch>.
chmod 0755 dist/gpx_highway_linux_*

step "frontend tests"
npx vitest run --reporter=dot

step "backend tests and the gRPC contract test on dist/gpx_highway_linux_$(go env GOARCH)"
tags=()
if [ -n "${INTEGRATION:-}" ]; then
  tags=(-tags integration)
  # The integration tests compile the platform's packages too (api, store,
  # bus); built with cgo's default, as ops/test builds the platform's own
  # tests, both runs share one compiled copy of them.
  unset CGO_ENABLED
fi
HIGHWAY_PLUGIN_BINARY="$PWD/dist/gpx_highway_linux_$(go env GOARCH)" \
  go test "${tags[@]}" -count=1 ./pkg/...

step "plugin built and tested: dist/ is ready to install"
ls -l dist >&2
