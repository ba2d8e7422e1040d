package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct", "192.0.2.8:41000", nil, "192.0.2.8"},
		{"an untrusted peer's claim is ignored", "192.0.2.8:41000", []string{"198.51.100.4"}, "192.0.2.8"},
		{"through the gateway", "10.0.0.2:5555", []string{"198.51.100.4"}, "198.51.100.4"},
		{"what the client put before the gateway is ignored", "10.0.0.2:5555", []string{"203.0.113.9, 198.51.100.4"}, "198.51.100.4"},
		{"through a sidecar and the gateway", "127.0.0.6:5555", []string{"198.51.100.4, 10.0.0.2"}, "198.51.100.4"},
		{"split over headers", "10.0.0.2:5555", []string{"203.0.113.9", "198.51.100.4"}, "198.51.100.4"},
		{"a trusted peer without a header", "10.0.0.2:5555", nil, "10.0.0.2"},
		{"a malformed hop ends the walk", "10.0.0.2:5555", []string{"198.51.100.4, not-an-ip"}, "10.0.0.2"},
		{"in process, from the gateway", "pipe", []string{"198.51.100.4"}, "198.51.100.4"},
		{"IPv6", "[2001:db8::1]:443", []string{"198.51.100.4"}, "2001:db8::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(r, trusted); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestTrusted(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for addr, want := range map[string]bool{
		"10.1.2.3":             true,
		"10.1.2.3:5555":        true,
		"[::1]:5555":           true,
		"[::ffff:10.0.0.2]:80": true, // an IPv4 peer on a dual-stack socket
		"192.0.2.8:41000":      false,
		"11.0.0.1":             false,
		"pipe":                 false,
		"":                     false,
	} {
		if got := Trusted(addr, trusted); got != want {
			t.Errorf("Trusted(%q) = %v", addr, got)
		}
	}
	if Trusted("127.0.0.1:1", nil) {
		t.Error("with no trusted prefixes, loopback is trusted")
	}
}
