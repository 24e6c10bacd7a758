# highway: one static binary for every command (connect, process, schedule,
# serve, simulate). Versions come from .env through docker-compose.yml.
ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.22

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/highway ./cmd/highway

FROM alpine:${ALPINE_VERSION}
# tzdata: ClickHouse's time zone must be known here (store.Open checks it);
# wget (busybox) is what the healthchecks call.
RUN apk add --no-cache tzdata ca-certificates && adduser -D -H -u 10001 highway && mkdir -p /data && chown highway /data
COPY --from=build /out/highway /usr/local/bin/highway
USER highway
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/highway"]
CMD ["--help"]
