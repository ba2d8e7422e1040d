package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// clientAddr is the address a request came from, for audit entries and
// per-address throttling. X-Forwarded-For is read from the right, hop by
// hop, only while the hop that added the next entry is trusted: the first
// untrusted address is the client. A peer that is not an IP address is
// the in-process connection of all mode, which only the gateway uses.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if _, err := netip.ParseAddr(peer); err == nil && !Trusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		if _, err := netip.ParseAddr(hops[i]); err != nil {
			break // a malformed hop ends what can be believed
		}
		client = hops[i]
		if !Trusted(client, trusted) {
			break
		}
	}
	return client
}

// Trusted reports whether addr, an IP address or host:port as in
// http.Request.RemoteAddr, lies in one of the trusted prefixes: a proxy
// whose X-Forwarded-For names the client. Anything that is not an IP
// address is not trusted.
func Trusted(addr string, trusted []netip.Prefix) bool {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(ip.Unmap()) })
}
