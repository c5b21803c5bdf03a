// Package ui is how the quicxfer command shows what it does: the display
// of a download while it runs (bars redrawn in place on a terminal, plain
// lines every few seconds when standard error is not one, JSON events with
// --json-progress, nothing with --quiet), one view for a single file
// (ProgressView) and one for a directory (DirView), the summaries printed
// at the end, the status of a partial download, and every JSON object the
// command prints (--json, --json-progress, status --json). docs/json.md is
// the schema of those objects; schema_test.go pins their field names to it.
//
// The views take the library's callbacks (quicxfer.Options.OnEvent,
// OnProgress, Logf) and its results; they know nothing of flags.
//
//	cmd/quicxfer get ──▶ quicxfer.Download ──OnEvent/OnProgress──▶ ProgressView / DirView
//	                                                                    │
//	             standard error: bars, plain lines, messages ◀──────────┤
//	             standard output: --json-progress events     ◀──────────┘
//
// Names, paths and URLs that others chose are printed through ShowName and
// RedactURLsIn, so that none forges a line, reaches a terminal as an escape
// sequence or shows a password.
package ui
