// Package webhooks delivers events to the HTTPS endpoints integrations
// register: each delivery signed per the Standard Webhooks specification
// (webhook-id, webhook-timestamp, webhook-signature), sent so that an
// endpoint cannot turn the service against its own network (SSRF): https
// only, every address checked when it is dialled (after DNS resolution,
// so a name that resolves to a private address is refused too), no
// redirects, short timeouts, response bodies capped.
package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/anexo/anexo/shared/base/apperr"
)

// SecretPrefix starts every signing secret (as the specification writes
// them): whsec_ and the base64 of 32 random bytes.
const SecretPrefix = "whsec_"

// NewSecret makes a signing secret.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign is the webhook-signature header of a message: "v1," and the
// base64 HMAC-SHA256 of "<id>.<unix seconds>.<body>" under the secret.
func Sign(secret, id string, at time.Time, body []byte) (string, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return "", err
	}
	return wh.Sign(id, at, body)
}

// Limits of one delivery attempt.
const (
	DialTimeout    = 3 * time.Second
	AttemptTimeout = 10 * time.Second // the whole request, answer included
	MaxResponse    = 64 << 10         // bytes of the answer read (the rest is dropped)
	ExcerptBytes   = 1 << 10          // bytes of the answer kept with the attempt
)

// Attempt is the outcome of one delivery attempt, as the deliveries log
// shows it.
type Attempt struct {
	At       time.Time     // when it was sent (its webhook-timestamp)
	Status   int           // the endpoint's HTTP status (0: no answer)
	Latency  time.Duration // until the answer's headers, or the failure
	Response string        // the answer's first bytes
	Error    string        // why there was no answer (refused address, timeout …)
}

// OK reports a delivery the endpoint accepted (any 2xx).
func (a Attempt) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Problem says why the attempt failed: its error, or the status it got.
func (a Attempt) Problem() string {
	if a.Error != "" {
		return a.Error
	}
	return "the endpoint answered " + strconv.Itoa(a.Status)
}

// Sender posts signed deliveries.
type Sender struct {
	client *http.Client
	// loopback admits http:// and loopback addresses (local mode, where
	// receivers run on this machine).
	loopback bool
}

// NewSender returns a sender; allowLoopback admits http:// endpoints on
// loopback addresses (local mode only: never on AWS).
func NewSender(allowLoopback bool) *Sender {
	s := &Sender{loopback: allowLoopback}
	dialer := &net.Dialer{Timeout: DialTimeout, Control: s.control}
	s.client = &http.Client{
		Timeout: AttemptTimeout,
		Transport: &http.Transport{
			Proxy:                 nil, // never through a proxy the environment names
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   DialTimeout,
			ResponseHeaderTimeout: AttemptTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
		},
		// a redirect is the endpoint's answer, not a place to go
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// WithTimeout bounds each attempt by d instead of AttemptTimeout (tests).
func (s *Sender) WithTimeout(d time.Duration) *Sender {
	s.client.Timeout = d
	s.client.Transport.(*http.Transport).ResponseHeaderTimeout = d
	return s
}

// Roots is the system's CA certificates and those of a PEM bundle: what
// an endpoint's certificate may chain to in local mode, where receivers
// have a certificate from a development CA, such as mkcert's.
func Roots(pem []byte) (*x509.CertPool, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("no CA certificate in the PEM data")
	}
	return roots, nil
}

// Trust makes roots the CA certificates an endpoint's certificate must
// chain to (Roots).
func (s *Sender) Trust(roots *x509.CertPool) *Sender {
	s.client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return s
}

// ErrForbiddenAddress is a dial to an address deliveries may not reach.
var ErrForbiddenAddress = errors.New("the endpoint resolves to an address webhooks may not reach (private, loopback, link-local or metadata)")

// control refuses, at dial time, every address that is not public.
func (s *Sender) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if ip := ap.Addr().Unmap(); Forbidden(ip) && !(s.loopback && ip.IsLoopback()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	return nil
}

// special are the prefixes of IANA's IPv4 and IPv6 special-purpose
// address registries that are not globally reachable (or embed another
// address: NAT64, 6to4, Teredo, IPv4-compatible), besides what netip
// classifies itself (loopback, private, link-local, multicast).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // this network
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), :: and ::1 among them
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("100:0:0:1::/64"),  // dummy prefix
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo (2001::/32) among them
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // segment routing (SRv6) SIDs
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local unicast
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// Forbidden reports an address deliveries never reach: loopback, private
// (RFC 1918, unique local — AWS's IPv6 metadata address fd00:ec2::254
// among them), link-local (the 169.254.169.254 metadata service among
// them), multicast, unspecified, broadcast and the special ranges.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, p := range special {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURL validates an endpoint URL as registered: absolute https (http
// only to a loopback host when loopback is allowed), no credentials, no
// fragment, at most 2,048 bytes, and a host that is not an IP literal
// deliveries may not reach. (Names are checked again at every dial.)
func CheckURL(field, raw string, allowLoopback bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	bad := func(detail string) (*url.URL, error) { return nil, apperr.Invalid(field, detail) }
	switch {
	case len(raw) > 2048:
		return bad("must be at most 2048 bytes")
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return bad("must be an absolute https URL, e.g. https://crm.example.com/hooks/anexo")
	case u.User != nil:
		return bad("must not carry credentials; the signature authenticates deliveries")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("must not have a fragment")
	}
	host := u.Hostname()
	ip, perr := netip.ParseAddr(host)
	isIP := perr == nil
	loopback := allowLoopback && (isIP && ip.Unmap().IsLoopback() || host == "localhost")
	switch {
	case u.Scheme == "http" && loopback:
	case u.Scheme != "https":
		return bad("must use https")
	}
	if isIP && Forbidden(ip) && !loopback {
		return bad("must not point at a private, loopback, link-local or metadata address")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("has an invalid port")
		}
	}
	return u, nil
}

// Send posts one delivery of body (a JSON event) to endpoint, signed with
// each secret (the current one, and a replaced one during its grace: the
// header then carries both signatures, space-separated, as the
// specification allows) under the message id (the event's id: the same
// on every retry) at time at.
func (s *Sender) Send(ctx context.Context, endpoint string, secrets []string, id string, at time.Time, body []byte) Attempt {
	start := time.Now()
	fail := func(err error) Attempt {
		msg := err.Error()
		var ue *url.Error
		switch {
		case errors.Is(err, ErrForbiddenAddress):
			msg = ErrForbiddenAddress.Error()
		case errors.As(err, &ue) && ue.Timeout():
			msg = "no answer within " + s.client.Timeout.String()
		}
		return Attempt{At: at, Latency: time.Since(start), Error: msg}
	}
	if _, err := CheckURL("url", endpoint, s.loopback); err != nil {
		return fail(err)
	}
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		sig, err := Sign(secret, id, at, body)
		if err != nil {
			return fail(err)
		}
		sigs[i] = sig
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Anexo-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(sigs, " "))
	resp, err := s.client.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	a := Attempt{At: at, Status: resp.StatusCode, Latency: time.Since(start)}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	a.Response = string(b[:min(len(b), ExcerptBytes)])
	return a
}
