package bus

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// dialTimeout bounds connecting to a broker, TLS handshake and SASL
// exchange included.
const dialTimeout = 5 * time.Second

// errSASLClosed says the broker closed the connection in the middle of a
// SASL exchange, which is how some brokers (and kfake) refuse credentials.
var errSASLClosed = errors.New("the broker closed the connection during SASL authentication")

// dialBroker connects to the broker at addr as sec says: TCP, then a TLS
// handshake when sec has TLS, then a SASL exchange (SaslHandshake v1 and
// SaslAuthenticate v1, the mechanism's messages made by franz-go's sasl
// packages) when it has a mechanism. Errors of refused certificates or
// credentials are *SecurityError.
func dialBroker(ctx context.Context, addr string, sec security) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if cfg := sec.tlsFor(addr); cfg != nil {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, sec.classify(addr, fmt.Errorf("TLS handshake: %w", err))
		}
		conn = tc
	}
	if sec.mech != nil {
		if err := authenticate(ctx, conn, addr, sec); err != nil {
			conn.Close()
			return nil, sec.classify(addr, err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// authenticate runs the SASL exchange of sec's mechanism on conn.
func authenticate(ctx context.Context, conn net.Conn, addr string, sec security) error {
	var corr int32
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = sec.mech.Name()
	hsResp := kmsg.NewPtrSASLHandshakeResponse()
	hsResp.Version = 1
	if err := roundTrip(conn, &corr, hs, hsResp); err != nil {
		return fmt.Errorf("SASL handshake: %w", err)
	}
	if hsResp.ErrorCode != 0 {
		return fmt.Errorf("SASL handshake for %s (the broker offers %v): %w", hs.Mechanism, hsResp.SupportedMechanisms, kafka.Error(hsResp.ErrorCode))
	}
	host, _, _ := net.SplitHostPort(addr)
	sess, msg, err := sec.mech.Authenticate(ctx, host)
	if err != nil {
		return fmt.Errorf("SASL %s: %w", hs.Mechanism, err)
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 1
		req.SASLAuthBytes = msg
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		resp.Version = 1
		if err := roundTrip(conn, &corr, req, resp); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				err = errSASLClosed
			}
			return fmt.Errorf("SASL %s: %w", hs.Mechanism, err)
		}
		if resp.ErrorCode != 0 {
			detail := ""
			if resp.ErrorMessage != nil {
				detail = " (" + *resp.ErrorMessage + ")"
			}
			return fmt.Errorf("SASL %s%s: %w", hs.Mechanism, detail, kafka.Error(resp.ErrorCode))
		}
		done, next, err := sess.Challenge(resp.SASLAuthBytes)
		if err != nil {
			return fmt.Errorf("SASL %s: %w", hs.Mechanism, err)
		}
		if done {
			return nil
		}
		msg = next
	}
}

// roundTrip sends req (a non-flexible version) with the next correlation
// id and reads its answer into resp.
func roundTrip(conn net.Conn, corr *int32, req kmsg.Request, resp kmsg.Response) error {
	*corr++
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(*corr))
	b = appendString(b, clientID)
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	if _, err := conn.Write(b); err != nil {
		return err
	}
	var head [8]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return err
	}
	size := int(int32(binary.BigEndian.Uint32(head[:4])))
	if got := int32(binary.BigEndian.Uint32(head[4:])); got != *corr {
		return fmt.Errorf("response %d for request %d", got, *corr)
	}
	if size < 4 || size > 1<<20 {
		return fmt.Errorf("a response of %d bytes", size)
	}
	body := make([]byte, size-4)
	if _, err := io.ReadFull(conn, body); err != nil {
		return err
	}
	return resp.ReadFrom(body)
}
