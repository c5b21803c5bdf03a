// Package socks5test runs a small SOCKS5 proxy (RFC 1928) for tests: it
// serves CONNECT only, with no authentication or with one user name and
// password (RFC 1929), and records what clients asked of it, so that a test
// can check that a connection went through the proxy, and to which target
// (an address, or a name the proxy resolved).
package socks5test
