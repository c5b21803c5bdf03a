// Package attack runs misbehaving clients against a seed: garbage
// datagrams, handshakes with the wrong ALPN, floods of abandoned streams,
// bad requests (out-of-range and unknown blocks, frames announcing huge
// payloads, requests that never end) and slow readers that ask for blocks
// through tiny windows and never read them.
//
// It is what the seed's hostile-client test (seed.TestUnderAttack) and the
// benchmark's "seed under attack" scenario (bench, scenario 10) send. It
// knows the seed only by its UDP address and the wire protocol, so it can run
// in the test's process or in a process of its own, away from the seed and
// the good client. Attacks are paced (see Mix), not as fast as the CPU
// allows: on a shared machine an attacker's own QUIC and TLS work would
// otherwise take the CPU that a remote attacker's would not.
package attack
