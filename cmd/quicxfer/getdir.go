package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/quicxfer/quicxfer/cmd/quicxfer/internal/ui"
	"github.com/quicxfer/quicxfer/quicxfer"
)

// getDir downloads the directory prefix of the seeds (every file if prefix
// is empty) into outdir with quicxfer.DownloadDir, drawing its progress with
// a dirView. base carries the seeds and the options every file shares.
// fallback says get tried prefix as a file first: then quicxfer.ErrNoDir is
// get's to report.
//
// described, if not nil, are the files (a multi-file Metalink's) in place
// of those the seeds list under prefix.
func getDir(c *cli.Context, prefix, outdir string, base quicxfer.Options, fallback bool, described []quicxfer.DescribedFile) (err error) {
	parallel := c.Int("parallel")
	if parallel < 1 || parallel > quicxfer.MaxParallel {
		return usagef("--parallel: want 1 to %d, got %d", quicxfer.MaxParallel, parallel)
	}
	var view *ui.DirView
	if c.Bool("json-progress") {
		// An error before the display starts (no seed lists its files, no
		// such directory) is the one event, as for a single file; no such
		// directory after get looked for a file of that name is get's to
		// report, as that file's "not found".
		defer func() {
			var ue usageError
			if err != nil && view == nil && !errors.As(err, &ue) && !(fallback && errors.Is(err, quicxfer.ErrNoDir)) {
				ui.WriteDirError(c.App.Writer, outdir, err)
			}
		}()
	}
	logf := func(format string, args ...any) { fmt.Fprintf(c.App.ErrWriter, "quicxfer: "+format+"\n", args...) }
	label := prefix + "/"
	if prefix == "" {
		label = "all files"
	}
	var files []quicxfer.DirFile
	var started []bool // by file: its record written
	res, err := quicxfer.DownloadDir(c.Context, quicxfer.DirOptions{
		Base: base, Prefix: prefix, OutDir: outdir, Parallel: parallel, Logf: logf, Described: described,
		OnFiles: func(fs []quicxfer.DirFile, refused quicxfer.Refusals) error {
			for _, r := range refused.Shown {
				logf("%s", refusalLine(r, outdir))
			}
			if more := refused.N - len(refused.Shown); more > 0 {
				logf("refusing %d more names the same way", more)
			}
			files, started = fs, make([]bool, len(fs))
			view = ui.NewDirView(ui.DirViewOptions{ViewOptions: viewOptions(c), Label: showName(label), OutDir: outdir, Files: files, Parallel: parallel})
			return nil
		},
		OnFileStart: func(i int) {
			started[i] = true
			writeRecord(c, files[i].Out(outdir), files[i].Name, c.Args().Slice()...)
		},
		FileLogf: func(i int, format string, args ...any) {
			view.Logf("%s: "+format, append([]any{showName(files[i].Rel)}, args...)...)
		},
		OnProgress: func(i int, p quicxfer.Progress) { view.Progress(i, p) },
		OnEvent:    func(i int, e quicxfer.Event) { view.Event(i, e) },
		OnFileDone: func(i int, r *quicxfer.Result, err error) {
			if started[i] {
				endRecord(files[i].Out(outdir))
			}
			if err == nil && r != nil {
				markDone(files[i].Out(outdir), r.ID)
			}
			view.FileEnd(i, r, interrupted(context.Background(), cliError(err, clientFlags), files[i].Out(outdir), r != nil))
		},
	})
	if res != nil {
		for i, e := range res.Errs {
			res.Errs[i] = interrupted(context.Background(), cliError(e, clientFlags), res.Files[i].Out(outdir), res.Results[i] != nil)
		}
	}
	var de *quicxfer.DirError
	switch {
	case errors.As(err, &de):
	case err != nil:
		var be *quicxfer.BadOptionsError
		switch {
		case errors.As(err, &be):
			return usagef("%v", be)
		case errors.Is(err, quicxfer.ErrIDForDir):
			return usagef("--id names one file's content; it does not go with a directory or --all")
		case errors.Is(err, context.Canceled) || c.Context.Err() != nil:
			return &saidError{msg: "interrupted while asking the seeds for their files: nothing was written", err: errors.Join(context.Canceled, err)}
		}
		return err
	}

	var err2 error
	switch {
	case de == nil:
	case de.Interrupted != nil:
		err2 = &saidError{msg: fmt.Sprintf("interrupted; %d of %d files complete, verified blocks of the others are saved: run the same command to resume", de.Files-de.Failed, de.Files), err: de.Interrupted}
	default:
		first := fmt.Errorf("%s: %w", showName(de.File), cliError(de.Err, clientFlags))
		var re *quicxfer.RefusedError
		if de.File == "" && errors.As(de.Err, &re) {
			first = errors.New(refusalLine(re, outdir))
		}
		err2 = fmt.Errorf("%d of %d files failed (%v)", de.Failed+de.Refused, de.Files+de.Refused, first)
	}
	j := ui.DirResultOf(outdir, res.Files, res.Results, res.Errs, res.Elapsed, err2)
	view.Finish(j, err2)
	if c.Bool("json") {
		if jerr := json.NewEncoder(c.App.Writer).Encode(j); jerr != nil {
			return jerr
		}
	}
	if err2 == nil && !c.Bool("quiet") {
		ui.DirSummary(c.App.ErrWriter, outdir, res.Files, res.Results, res.Elapsed)
	}
	return err2
}

// refusalLine is the line that says which name of the seeds' lists a
// directory download into outdir refused, and why.
func refusalLine(r *quicxfer.RefusedError, outdir string) string {
	if errors.Is(r.Err, quicxfer.ErrOutsideDir) {
		return fmt.Sprintf("refusing %s: it would be written outside %s", quoteShort(r.Name), showName(outdir))
	}
	return fmt.Sprintf("refusing %s: %v", quoteShort(r.Name), r.Err)
}
