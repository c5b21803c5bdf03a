package main

import (
	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// What get, ls and status print of what others chose (a name a seed lists,
// a path found on disk, a URL with a password in it) is shown as package ui
// shows it; these are its functions under the names the commands use.

func showName(s string) string        { return ui.ShowName(s) }
func quoteShort(name string) string   { return ui.QuoteShort(name) }
func printable(s string) bool         { return quicxfer.Printable(s) }
func redactURL(s string) string       { return ui.RedactURL(s) }
func redactURLsIn(text string) string { return ui.RedactURLsIn(text) }

// redactedPassword replaces a password in a URL that is shown or kept.
const redactedPassword = ui.RedactedPassword
