package main

import (
	"net"
	"net/http"
)

// httpsRedirect answers every plain-HTTP request with a permanent redirect
// to the same path and query on the HTTPS address whose port is httpsPort
// (the host is the one the client asked for), so that a browser or a
// client given an http:// link never sends a token in clear twice: 308
// keeps the method and body, and a request with an Authorization header is
// refused instead of redirected, since its token has already travelled in
// clear and must be rotated.
func httpsRedirect(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "this port is plain HTTP: the token was sent unencrypted; rotate it (highway token rotate) and call https:// instead", http.StatusForbidden)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if host == "" {
			host = "localhost"
		}
		target := "https://" + net.JoinHostPort(host, httpsPort) + r.URL.RequestURI()
		if httpsPort == "443" {
			target = "https://" + host + r.URL.RequestURI()
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}
