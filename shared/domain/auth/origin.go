package auth

import (
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/anexo/anexo/shared/base/apperr"
)

// A token's allowed_domain is a web origin: scheme, host and port, as a
// browser sends it in the Origin header. The host may start with "*." to
// admit the domain and its subdomains; the scheme is https, except for
// loopback hosts (a developer's page on http://localhost:3000). The port is
// part of the origin: https://app.example.com admits port 443 only.

const originDetail = "must be a web origin such as https://app.example.com, https://*.example.com " +
	"or http://localhost:3000 (https only, except loopback hosts)"

func originError() error { return apperr.Invalid("allowed_domain", originDetail) }

// NormalizeOrigin validates an allowed_domain and returns its canonical
// form: lower case, no trailing slash, the default port left out. A bare
// host name (the form earlier versions stored) means https.
func NormalizeOrigin(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", originError()
	}
	host, port := u.Hostname(), u.Port()
	base := strings.TrimPrefix(host, "*.")
	if base == "" || len(base) > 253 || strings.ContainsAny(base, "*@ ") || !validPort(port, u.Host) {
		return "", originError()
	}
	if !strings.Contains(base, ".") && base != "localhost" && net.ParseIP(base) == nil {
		return "", originError()
	}
	if base != host && publicSuffix(base) {
		return "", apperr.Invalid("allowed_domain", "*."+base+" would admit every site under a public suffix; name your own domain (https://*.example.co.uk)")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback(base) && base == host:
	default:
		return "", originError()
	}
	if port == defaultPort(u.Scheme) {
		port = ""
	}
	return origin(u.Scheme, host, port), nil
}

// publicSuffix reports whether domain is a public suffix (co.uk,
// github.io): registrable by anyone, so a wildcard over it admits
// strangers' sites.
func publicSuffix(domain string) bool {
	if net.ParseIP(domain) != nil || loopback(domain) {
		return false
	}
	_, err := publicsuffix.EffectiveTLDPlusOne(domain)
	return err != nil
}

func validPort(port, hostport string) bool {
	if port == "" {
		return !strings.HasSuffix(hostport, ":")
	}
	if len(port) > 5 || strings.TrimLeft(port, "0123456789") != "" || port[0] == '0' {
		return false
	}
	n := 0
	for _, c := range port {
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}

func origin(scheme, host, port string) string {
	if strings.Contains(host, ":") { // IPv6
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// CheckOrigin enforces the token's allowed_domain against the Origin
// header, or the Referer when Origin is absent: same scheme, same port, a
// matching host. Tokens without one accept any caller.
func (p Principal) CheckOrigin(originHeader, referer string) error {
	if p.AllowedDomain == "" {
		return nil
	}
	allowed, err := NormalizeOrigin(p.AllowedDomain)
	if err != nil { // a stored value this version cannot read admits nothing
		allowed = ""
	}
	src := originHeader
	if src == "" || src == "null" {
		src = referer
	}
	u, perr := url.Parse(src)
	if src == "" || perr != nil || u.Hostname() == "" {
		return apperr.New(apperr.KindForbidden, "origin_required", "this token is restricted to "+p.AllowedDomain+"; send an Origin or Referer header from it")
	}
	if allowed == "" || !OriginMatches(allowed, u) {
		return apperr.New(apperr.KindForbidden, "origin_not_allowed", "origin "+origin(strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port())+
			" is not allowed for this token (allowed: "+p.AllowedDomain+")")
	}
	return nil
}

// OriginMatches reports whether the page at u satisfies a normalized
// allowed origin.
func OriginMatches(allowed string, u *url.URL) bool {
	a, err := url.Parse(allowed)
	if err != nil {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != a.Scheme {
		return false
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	want := a.Port()
	if want == "" {
		want = defaultPort(a.Scheme)
	}
	if port != want {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	pattern := a.Hostname()
	if base, ok := strings.CutPrefix(pattern, "*."); ok {
		return host == base || strings.HasSuffix(host, "."+base)
	}
	return host == pattern
}

// OriginWithin reports whether every page the normalized origin inner
// admits is admitted by the normalized origin outer: a host inner admits
// matches outer (OriginMatches), and a wildcard inner needs a wildcard
// outer. An unrestricted inner ("") is within no restricted outer.
func OriginWithin(outer, inner string) bool {
	if outer == "" {
		return true
	}
	i, err := url.Parse(inner)
	if inner == "" || err != nil {
		return false
	}
	host := strings.TrimPrefix(i.Host, "*.") // the wildcard's base admits itself
	if host != i.Host && !strings.Contains(outer, "://*.") {
		return false
	}
	return OriginMatches(outer, &url.URL{Scheme: i.Scheme, Host: host})
}
