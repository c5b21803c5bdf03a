package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/internal/partial"
	"github.com/quicxfer/quicxfer/quicxfer"
	"github.com/quicxfer/quicxfer/quicxfer/manifest"
	"github.com/quicxfer/quicxfer/quicxfer/metalink"
	"github.com/quicxfer/quicxfer/scheduler"
	"github.com/quicxfer/quicxfer/seed"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "download NAME from every seed and mirror at once, verified, into OUT",
		ArgsUsage: "NAME | DIR | --all | URL... | FILE.meta4",
		Description: `Every block is checked against the file's manifest before it is kept. Partial
data lives in OUT.qxpart and its bitmap in OUT.qxstate; OUT appears, complete
and verified, only at the end. Run the same command again after any
interruption to resume; 'quicxfer status OUT' shows how far a download got.

NAME may also be a directory of the names the seeds list (docs matches
docs/a and docs/sub/b), or --all every file they serve: each file is
downloaded into -o DIR (default: the directory's base name, or here for
--all) keeping its path below NAME, and resumes on its own; files already
complete are checked and kept.

HTTP(S) mirrors (the file's own URLs, as arguments or with --mirror) are
read with range requests. With seeds, or --manifest MFILE (written by
"quicxfer manifest --out"), their blocks are verified like a seed's. Alone,
with no manifest, they must agree on the file's size (one that does not is
left out); with --checksum or --checksum-file the whole file must match the
published hash, computed as the file arrives, and a mismatch is repaired by
fetching again only the blocks of the mirror that sent bad ones; without a
hash the mirrors are compared with each other and the result says the file
was not verified. A Metalink (--metalink, or an argument FILE.meta4 or
.metalink, a file or a URL) gives mirrors, size and hashes: every piece it
hashes is verified before it is kept, and a Metalink of several files
downloads like a directory into -o DIR. OUT defaults to the file's name in
the first mirror's URL (or the Metalink's).

Examples:
   quicxfer get --seed URL1 --seed URL2 --seed URL3 -o debian.iso debian.iso
   quicxfer get --seed URL --json isos/debian.iso
   quicxfer get --seed URL1 --seed URL2 -o ./manuals docs
   QUICXFER_SEED=URL1,URL2 quicxfer get --all -o /srv/mirror
   quicxfer get https://a.example/debian.iso https://b.example/pub/debian.iso
   quicxfer get --checksum sha-256=5d2f...91 --mirror URL1 --mirror URL2 -o debian.iso
   quicxfer get --checksum-file SHA256SUMS URL1 URL2
   quicxfer get https://download.example.org/foo.iso.meta4
   quicxfer get --seed URL --mirror https://mirror.example/debian.iso debian.iso
   quicxfer get --manifest debian.iso.qxm --mirror https://a.example/debian.iso --mirror http://b.example/d.iso
   quicxfer get --seed URL --json-progress isos/debian.iso | my-gui
   QUICXFER_TOKEN=... quicxfer get --seed URL -o report.pdf private/report.pdf
   quicxfer get --serve --upload-limit 10MB/s --seed URL debian.iso   (share while downloading)`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "seed", Usage: "a seed's `URL` (repeat for more seeds)"},
			&cli.StringSliceFlag{Name: "mirror", Usage: "an HTTP(S) mirror: the file's `URL` (repeat for more mirrors)"},
			&cli.StringFlag{Name: "manifest", Usage: "the file's manifest, from `MFILE` (quicxfer manifest --out): every block of the mirrors is then verified against it"},
			&cli.StringFlag{Name: "checksum", Usage: "the whole file's published hash, `TYPE=HEX` (TYPE sha-256, sha-512, sha-1 or md5): get succeeds only if the file matches it"},
			&cli.StringFlag{Name: "checksum-file", Usage: "a `SUMS` file (sha256sum or sha512sum output, as SHA256SUMS): its line for OUT's name is the checksum"},
			&cli.StringFlag{Name: "metalink", Usage: "a Metalink (RFC 5854 .meta4, or 3.0 .metalink), a `FILE` or an http(s) URL: its mirrors, size and hashes; every piece it hashes is verified before it is kept"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where the file appears (`OUT`; default: NAME's base name here); an existing directory, or a name ending in / (then made), puts the file in it under its own base name, as cp does"},
			&cli.StringFlag{Name: "dir", Aliases: []string{"d"}, Usage: "the `DIR`ectory OUT goes in, made if missing (as aria2's -d): with -o NAME, DIR/NAME"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object with the figures of this run when it ends"},
			&cli.StringFlag{Name: "id", Usage: "accept only the manifest with this content `ID`"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress display"},
			&cli.BoolFlag{Name: "json-progress", Usage: "write one JSON event per line on standard output (start, progress, sources joining or dropped, rejected blocks; done or error last) instead of the progress display"},
			&cli.DurationFlag{Name: "json-progress-interval", Value: time.Second, Usage: "how often --json-progress writes a progress event"},
			&cli.IntFlag{Name: "retries", Value: scheduler.DefaultMaxRetries, Usage: "failures in a row (connection lost or refused, a stall, a request error) that drop a source; it is retried after " + backoffHelp() + " between; 0: never drop a source for failing (wait for it until Ctrl-C)"},
			&cli.BoolFlag{Name: "allow-insecure-redirect", Usage: "let an https --mirror redirect to plain http (refused by default: whoever is on the path could read what it sends; blocks are verified either way)"},
			&cli.StringFlag{Name: "lowest-speed-limit", Value: "1KB/s", Usage: "a source that sends less than this `RATE` (units as for seed --rate-limit) over " + quicxfer.DefaultLowestSpeedTime.String() + " with requests out is treated as stalled: its blocks go to other sources and it is tried again later (it counts toward --retries); 0 turns the rule off"},
			&cli.StringFlag{Name: "conns-per-seed", Value: "auto", Usage: "QUIC connections to each seed: `auto` (start with 1, add more while they raise the seed's rate and its path has no queue, up to " + strconv.Itoa(quicxfer.DefaultMaxConnsPerSeed) + "), or a number from 1 to 64; more help on paths with random loss, where one connection's congestion control caps its rate"},
			&cli.BoolFlag{Name: "all", Usage: "download every file the seeds serve, into -o DIR"},
			&cli.IntFlag{Name: "parallel", Value: quicxfer.DefaultParallel, Usage: fmt.Sprintf("files fetched at once in a directory download (1 to %d)", quicxfer.MaxParallel)},
			&cli.StringFlag{Name: "limit-rate", Aliases: []string{"max-download-limit"}, Value: "0", Usage: "take at most this `RATE` from all sources together (units as for seed --rate-limit: 500KB/s, 12.5MB/s, 100Mbit/s); 0: no limit"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log the download's decisions (--log-level debug): why a source joined, went down, was dropped, its backoffs, the manifest vote"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug (as -v), info, warn, or error (no messages, only the error a failed get ends with)"},
			&cli.BoolFlag{Name: "discard-partial", Usage: "throw away a partial download of a different file found at OUT (OUT.qxpart, OUT.qxstate) and start over; without it get refuses and keeps it"},
		}, append(append(append(serveFlags(), clientAccessFlags()...), httpFlags()...), dhtFlags("look the content ID (--id, or a link's) up on the BitTorrent mainline DHT for seeds, besides any --seed; get --id with no source at all does", ":0")...)...),
		Action: func(c *cli.Context) (err error) {
			all := c.Bool("all")
			ga, err := splitArgs(c)
			if err != nil {
				return err
			}
			seeds, mirrors, mfile := c.StringSlice("seed"), ga.mirrors, c.String("manifest")
			// No source but a content ID (--id, or a link's): the seeds
			// are found on the DHT (getdht.go).
			hasID := c.IsSet("id") || ga.link != nil
			dhtMode := c.Bool("dht") || (hasID && len(seeds) == 0 && len(mirrors) == 0 && ga.metalink == "" && mfile == "" && (ga.link == nil || len(ga.link.Seeds)+len(ga.link.Mirrors) == 0))
			if l := ga.link; l != nil {
				// A link is a whole command: its seeds and mirrors join
				// the others, its name is NAME (and OUT's default) and its
				// content ID is --id.
				seeds, mirrors = append(seeds, l.Seeds...), append(mirrors, l.Mirrors...)
				if len(ga.names) == 0 && l.Name != "" {
					ga.names = []string{l.Name}
				}
			}
			// --json's object is written whatever stops the get (but a
			// usage error, and a directory's, which getDir writes), each
			// source given listed.
			jsonDone := !c.Bool("json")
			defer func() {
				if _, usage := errors.AsType[usageError](err); err != nil && !usage && !jsonDone {
					_ = ui.WriteResult(c.App.Writer, givenSources(nil, seeds, mirrors, err), err)
				}
			}()
			switch {
			case c.Bool("dht") && !hasID:
				return usagef("get --dht: give the file's content ID, --id ID (the DHT knows seeds by it)")
			case !dhtMode && (c.IsSet("dht-listen") || c.IsSet("dht-bootstrap") || c.IsSet("dht-private")):
				return usagef("get: --dht-listen, --dht-bootstrap and --dht-private go with --dht, or with --id and no other source")
			case len(seeds) == 0 && len(mirrors) == 0 && ga.metalink == "" && !dhtMode:
				return usagef("get: give at least one --seed URL, the file's http(s) URLs (mirrors), or a Metalink")
			case all && (len(ga.names) != 0 || mfile != "" || len(mirrors) > 0 || ga.metalink != ""):
				return usagef("get --all: give no NAME, mirror, Metalink or --manifest")
			case !all && len(ga.names) > 1:
				return usagef("get: give exactly one NAME (or --all)")
			case !all && len(ga.names) == 0 && len(seeds) > 0 && mfile == "" && ga.metalink == "" && c.NArg() > 0:
				return usagef("get: with --seed, give NAME, the file's name on the seeds (http(s) URLs are mirrors of it), or --manifest MFILE")
			case !all && len(ga.names) == 0 && len(seeds) > 0 && mfile == "" && ga.metalink == "":
				return usagef("get: give exactly one NAME (or --all)")
			case mfile != "" && ga.metalink != "":
				return usagef("get: --manifest and a Metalink: give one")
			case len(seeds) == 0 && mfile == "" && c.IsSet("id") && !dhtMode:
				return usagef("get --id: a content ID names a manifest, which mirrors alone do not have: give a --seed or --manifest MFILE (or --checksum for the mirrors' file)")
			case len(seeds) == 0 && mfile == "" && c.Bool("serve"):
				return usagef("get --serve: a file from mirrors alone has no content ID to share it by: give a --seed or --manifest MFILE")
			}
			name := ""
			if len(ga.names) > 0 {
				name = ga.names[0]
			}
			if err := checkName(name); err != nil {
				return err
			}
			id, _, err := idFlag(c)
			if err != nil {
				return err
			}
			if l := ga.link; l != nil && (len(seeds) > 0 || mfile != "" || dhtMode) {
				// (From mirrors alone nothing has a manifest to check
				// the ID against: the mirrors' checks apply.)
				if !id.IsZero() && id != l.ID {
					return usagef("get: --id %s and the link's content ID %s differ: give one", id, l.ID)
				}
				id = l.ID
			}
			if err := checkServeFlags(c); err != nil {
				return err
			}
			auth, err := clientAccess(c, c.App.ErrWriter)
			if err != nil {
				return err
			}
			if err := httpAccess(c, &auth); err != nil {
				return err
			}
			if dhtMode {
				dir := c.String("state-dir")
				if dir == "" {
					if dir, err = seed.DefaultStateDir(); err != nil {
						return err
					}
				}
				cfg, err := dhtConfig(c, dir, c.App.ErrWriter)
				if err != nil {
					return err
				}
				found, err := dhtSeeds(c.Context, cfg, id, c.App.ErrWriter)
				if err != nil {
					return err
				}
				seeds = append(seeds, found...)
				if len(mirrors) == 0 {
					// The DHT gives no pin: its seeds are dialled without
					// a certificate check, safe as every block is checked
					// against the content ID. (With https mirrors that
					// would be their check too: then the DHT's seeds need
					// a certificate the system trusts.)
					auth.Insecure = true
				}
			}
			var described []quicxfer.DescribedFile
			var ml *metalink.Metalink
			if ga.metalink != "" {
				hc, err := quicxfer.NewHTTPClient(auth)
				if err != nil {
					return usagef("%v", err)
				}
				ml, err = loadMetalink(c.Context, ga.metalink, hc)
				quicxfer.CloseHTTPClient(hc)
				if err != nil {
					return err
				}
				for _, n := range ml.Notes {
					fmt.Fprintf(c.App.ErrWriter, "quicxfer: %s\n", n)
				}
				if len(ml.Files) > 1 {
					if name != "" {
						return usagef("get: the Metalink describes %d files: give no NAME (-o DIR is where they go)", len(ml.Files))
					}
					for _, f := range ml.Files {
						described = append(described, quicxfer.DescribedFileOf(&f))
					}
				} else if name == "" {
					name = ml.Files[0].Name
				}
			}
			dir := all || strings.HasSuffix(name, "/") || described != nil
			where, err := outPaths(c, name, mirrors, all || described != nil)
			if err != nil && !(dir && where.dir != "") {
				return err
			}
			out := where.file
			if dir {
				out = where.dir
			}
			var known *manifest.Manifest
			if mfile != "" {
				m, err := manifest.ReadFile(mfile)
				if err != nil {
					return fmt.Errorf("--manifest: %w", err)
				}
				known = m
			}
			conns, err := parseConnsPerSeed(c.String("conns-per-seed"))
			if err != nil {
				return usagef("--conns-per-seed%s: %v", fromEnv(c, "conns-per-seed"), err)
			}
			if n := c.Int("retries"); n < 0 || n > 1000 {
				return usagef("--retries: want 0 (never give up) to 1000, got %d", n)
			}
			lowest, err := parseRate(c.String("lowest-speed-limit"))
			if err != nil {
				return usagef("--lowest-speed-limit%s: %v", fromEnv(c, "lowest-speed-limit"), err)
			}
			bps, err := limitRate(c)
			if err != nil {
				return err
			}
			lg, err := getLogging(c)
			if err != nil {
				return err
			}
			opts := quicxfer.Options{Seeds: seeds, Mirrors: mirrors, Manifest: known, Name: name, Out: out, Auth: auth, ConnsPerSeed: conns, MaxRetries: c.Int("retries"),
				LowestSpeedLimit: lowest, AllowInsecureRedirect: c.Bool("allow-insecure-redirect"), DiscardPartial: c.Bool("discard-partial"),
				DescribeError: func(err error) string { return describe(err, clientFlags) }}
			if opts.MaxRetries == 0 {
				opts.MaxRetries = -1 // never
			}
			if opts.LowestSpeedLimit == 0 {
				opts.LowestSpeedLimit = -1 // off
			}
			opts.ID = id // zero: not given (idFlag refuses a given zero)
			if opts.Checksum, err = checksumFlag(c, out); err != nil {
				return err
			}
			if ml != nil && described == nil {
				opts.Describe(quicxfer.DescribedFileOf(&ml.Files[0]))
				if len(opts.Mirrors) == 0 && len(seeds) == 0 {
					return fmt.Errorf("the Metalink %s names no http(s) mirror of %s, and no --seed was given", showName(redactURL(ga.metalink)), showName(ml.Files[0].Name))
				}
			}
			if c.Bool("json") && c.Bool("json-progress") {
				return usagef("--json and --json-progress: choose one (the last --json-progress event, done or error, carries every --json field)")
			}
			if d := c.Duration("json-progress-interval"); d <= 0 {
				return usagef("--json-progress-interval: want a positive duration, got %s", d)
			}
			if dir && c.Bool("serve") {
				return usagef("--serve: one file at a time")
			}
			if c.Bool("serve") && auth.Certificate != nil && len(auth.Token) == 0 {
				return usagef("--serve with --client-cert: this side could not check its peers' certificates, so it would share a private seed's file with anyone; use a token (--token), which --serve then requires of its peers too")
			}
			if err := swarmOptions(c, &opts); err != nil {
				return err
			}
			if dir {
				setLimits(&opts, bps, lg.debugf(func(format string, args ...any) {
					fmt.Fprintf(c.App.ErrWriter, "quicxfer: "+format+"\n", args...)
				}))
				jsonDone = true
				return getDir(c, strings.TrimSuffix(name, "/"), out, opts, false, described)
			}
			// Before anything is created or asked: OUT's directory must be
			// there, OUT's working files must be its own, and their names
			// must fit.
			if err := where.prepare(out); err != nil {
				return err
			}
			if err := partial.CheckPaths(out); err != nil {
				if errors.Is(err, partial.ErrNameTooLong) {
					return fmt.Errorf("%w: give a shorter -o", err)
				}
				return err
			}
			var sh *sharing
			var upShare *uploadShare
			if c.Bool("serve") {
				up, share, err := parseUploadLimit(c.String("upload-limit"))
				if err != nil {
					return usagef("--upload-limit: %v", err)
				}
				so := seed.Options{Listen: c.String("listen"), RateLimit: up, StateDir: c.String("state-dir")}
				if len(auth.Token) > 0 {
					// A file from a private seed is shared only with those
					// who hold its token.
					so.Tokens = []string{string(auth.Token)}
				}
				sh, err = startSharing(c.Context, c, so, "serving while downloading")
				if err != nil {
					return err
				}
				opts.Share, opts.SelfURLs = sh.sharer, sh.srv.URLs()
				if share > 0 {
					srv := sh.srv
					upShare = &uploadShare{share: share, set: func(bps float64) { _ = srv.SetRateLimit(bps) }}
				}
			}
			view := ui.NewProgressView(viewOptions(c))
			debugf := lg.debugf(view.Logf)
			setLimits(&opts, bps, debugf)
			opts.OnProgress, opts.OnEvent, opts.Logf = view.Progress, debugEvents(debugf, view.Event), lg.messages(view.Logf)
			debugRun(debugf, opts, bps)
			if upShare != nil {
				opts.OnProgress = func(p quicxfer.Progress) { upShare.progress(p); view.Progress(p) }
			}
			writeRecord(c, out, name, c.Args().Slice()...)
			restoreLog := stdLogTo(view.Logf)
			res, err := quicxfer.Download(c.Context, opts)
			restoreLog()
			endRecord(out)
			err = getErrHint(err, out, opts)
			if quicxfer.MaybeDir(res, err) && sh == nil {
				// Not a file on any seed: maybe a directory of files.
				if derr := getDir(c, name, where.dir, opts, true, nil); !errors.Is(derr, quicxfer.ErrNoDir) {
					jsonDone = true
					return derr
				}
			}
			err = interrupted(c.Context, err, out, res != nil)
			if err != nil {
				res = givenSources(res, seeds, mirrors, err)
			}
			view.Finish(res, err)
			jsonDone = true
			if c.Bool("json") {
				if jerr := ui.WriteResult(c.App.Writer, res, err); jerr != nil {
					return jerr
				}
			}
			if err != nil {
				if sh != nil {
					_ = sh.stop()
				}
				return err
			}
			markDone(out, res.ID)
			if !c.Bool("quiet") {
				ui.Summary(c.App.ErrWriter, out, res)
			}
			if sh != nil {
				sh.seedOn(c.Context, c.App.ErrWriter, auth, usedSources(res), res.ID, c.Duration("seed-time"))
				return sh.stop()
			}
			return nil
		},
	}
}

// givenSources is res with an entry of zero counts for each source given
// (seeds, then mirrors, as given) that it has none of, all of them when the
// download stopped before it had any (res nil), with err as its note: what
// a get prints of its sources (--json's "seeds") lists every --seed and
// --mirror, however early the get ended.
func givenSources(res *quicxfer.Result, seeds, mirrors []string, err error) *quicxfer.Result {
	if res == nil {
		res = &quicxfer.Result{}
	}
	listed := map[string]bool{}
	for _, s := range res.Seeds {
		listed[s.URL] = true
	}
	for _, u := range append(append([]string{}, seeds...), mirrors...) {
		if !listed[u] {
			listed[u] = true
			res.Seeds = append(res.Seeds, quicxfer.SeedResult{URL: u, Note: "not used: " + cliError(err, clientFlags).Error()})
		}
	}
	return res
}

// checkName refuses a NAME that is a URL ("bad file name" would not say
// what is wrong): NAME is a file's name on the seeds, and a source's URL
// goes with --seed or --mirror.
func checkName(name string) error {
	scheme, _, ok := strings.Cut(name, "://")
	if !ok {
		return nil
	}
	shown := showName(redactURL(name))
	switch strings.ToLower(scheme) {
	case "http", "https":
		return usagef("get: NAME %s is a URL: give an HTTP(S) mirror with --mirror URL (with --manifest MFILE, or NAME the file's name on the seeds)", shown)
	default:
		return usagef("get: NAME %s is a URL: give a seed with --seed URL, and as NAME the file's name on the seeds (quicxfer ls --seed URL lists them)", shown)
	}
}

// idFlag reads --id (or QUICXFER_ID): the content ID, and whether one was
// given. The all-zero ID is refused: no manifest hashes to it (a content ID
// is a SHA-256), and the library takes a zero Options.ID as none given, so
// it would accept any manifest instead of none.
func idFlag(c *cli.Context) (id manifest.ID, given bool, err error) {
	if !c.IsSet("id") {
		return manifest.ID{}, false, nil
	}
	id, err = manifest.ParseID(c.String("id"))
	if err != nil {
		return manifest.ID{}, false, usagef("--id%s: %v", fromEnv(c, "id"), err)
	}
	if id.IsZero() {
		return manifest.ID{}, false, usagef("--id%s: the all-zero content ID is no file's (a content ID is the SHA-256 of a manifest); give the file's own, which \"quicxfer manifest FILE\" prints", fromEnv(c, "id"))
	}
	return id, true, nil
}

// interrupted is err, the error of a get into out that the user
// interrupted (Ctrl-C: ctx is cancelled), said as what was kept and what to
// do, without Go's "context canceled"; it still wraps context.Canceled (exit
// code 130); with ctx not cancelled, only an err that wraps
// context.Canceled is said so (a file of a directory download). started says the download had agreed on the file. Any other
// err is returned as it is.
func interrupted(ctx context.Context, err error, out string, started bool) error {
	if err == nil || (!errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		return err
	}
	msg := "interrupted while asking the seeds for the file: nothing was written"
	if ie, ok := errors.AsType[*quicxfer.InterruptedError](err); ok && strings.Contains(ie.While, "mirrors") {
		msg = "interrupted " + ie.While + ": nothing was written"
	}
	switch _, serr := os.Lstat(partial.PartPath(out)); {
	case serr == nil:
		msg = fmt.Sprintf("interrupted; verified blocks are saved in %s: run the same command to resume", showName(partial.PartPath(out)))
	case started:
		msg = "interrupted before the first block was verified: nothing was written" // nothing to resume: nothing left behind
	}
	if !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	return &saidError{msg: msg, err: err}
}

// getErrHint adds to a get's error what the user can do about it, in the
// command's own words (flags), where the library's cannot.
// The library's ErrNoSeeds ("no usable seed") is said of the sources
// given: of mirrors alone, "no usable mirror".
func getErrHint(err error, out string, opts quicxfer.Options) error {
	if errors.Is(err, quicxfer.ErrOtherPartial) {
		err = fmt.Errorf("%w: finish that download (quicxfer status %s shows its command), or add --discard-partial to throw it away", err, shellQuote([]string{out}))
	}
	said := cliError(err, clientFlags)
	if errors.Is(err, quicxfer.ErrNoSeeds) && len(opts.Mirrors) > 0 {
		words := "no usable source"
		if len(opts.Seeds) == 0 {
			words = "no usable mirror"
		}
		said = &saidError{msg: strings.Replace(said.Error(), quicxfer.ErrNoSeeds.Error(), words, 1), err: err}
	}
	return said
}

// stdLogTo sends what the standard logger prints to logf, as messages like
// the others, until the returned func puts it back. net/http's client logs
// there, raw, what a mirror sends on an idle connection ("Unsolicited
// response received on idle HTTP channel ..."), with no Transport setting
// to route it.
func stdLogTo(logf func(string, ...any)) (restore func()) {
	w, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	log.SetOutput(&logfWriter{logf: logf, seen: map[string]bool{}})
	log.SetFlags(0)
	log.SetPrefix("")
	return func() {
		log.SetOutput(w)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	}
}

// logfWriter is a logf as the standard logger's output: one message per
// write, each said once (a mirror that sends stray bytes does so on every
// connection).
type logfWriter struct {
	logf   func(string, ...any)
	mu     sync.Mutex
	seen   map[string]bool
	capped bool
}

func (w *logfWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.seen[msg]:
	case len(w.seen) >= 20:
		if !w.capped {
			w.capped = true
			w.logf("net/http: more such messages are not shown")
		}
	default:
		w.seen[msg] = true
		w.logf("net/http: %s", msg)
	}
	return len(p), nil
}

// defaultOut is OUT when -o is not given: NAME's base name, else the file
// name in the first mirror's URL; "" if neither names a file.
func defaultOut(name string, mirrors []string) string {
	if name != "" {
		return path.Base(name)
	}
	if len(mirrors) == 0 {
		return ""
	}
	u, err := url.Parse(mirrors[0])
	if err != nil {
		return ""
	}
	if b := path.Base(u.Path); b != "/" && b != "." && b != ".." {
		return b
	}
	return ""
}

// parseConnsPerSeed reads --conns-per-seed: "auto" is quicxfer.ConnsAuto,
// else a number from 1 to 64.
func parseConnsPerSeed(v string) (int, error) {
	if strings.EqualFold(strings.TrimSpace(v), "auto") {
		return quicxfer.ConnsAuto, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > 64 {
		return 0, fmt.Errorf("want auto or 1 to 64, got %q", v)
	}
	return n, nil
}

// fromEnv returns " (from VAR)" if flag's value is its environment
// variable's (the command line did not set another), for error messages;
// else "".
func fromEnv(c *cli.Context, flag string) string {
	return envNote(c, flag)
}
