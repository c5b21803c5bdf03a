// Package pemfile reads the PEM files quicxfer is given by name: a TLS
// certificate and its key, a bundle of CA certificates. Each is read with
// atomicfile.ReadFile: a regular file only (a FIFO never blocks the read, a
// device is never read), a symbolic link followed (the user named it), and
// at most MaxLen bytes, so that a flag pointing at the wrong file is one
// line, not a process that grows without bound.
package pemfile
