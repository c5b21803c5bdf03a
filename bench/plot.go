package bench

import (
	"errors"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotWindow is the span over which a plotted rate is averaged: short enough
// to show a seed dying or stalling, long enough to smooth the samples'
// granularity (a block at a time).
const plotWindow = 0.5 // seconds

// WritePlot draws r's throughput over time, one line per seed and one for
// their total, from r.Samples, to path; the format follows path's extension
// (.svg, .png, .pdf).
func WritePlot(path string, r Result) error {
	if len(r.Samples) < 2 {
		return errors.New("fewer than two samples")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (%s)", r.Name, formatSize(r.Size))
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "sent by each seed (Mbit/s)"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	nSeeds := 0
	for _, s := range r.Samples {
		nSeeds = max(nSeeds, len(s.Bytes))
	}
	series := func(value func(Sample) int64) plotter.XYs {
		var xys plotter.XYs
		j := 0
		for i := 1; i < len(r.Samples); i++ {
			cur := r.Samples[i]
			for j+1 < i && cur.T-r.Samples[j+1].T >= plotWindow {
				j++
			}
			prev := r.Samples[j]
			if dt := cur.T - prev.T; dt > 0 {
				xys = append(xys, plotter.XY{X: cur.T, Y: float64(value(cur)-value(prev)) * 8 / 1e6 / dt})
			}
		}
		return xys
	}
	at := func(s Sample, k int) int64 {
		if k < len(s.Bytes) {
			return s.Bytes[k]
		}
		return 0
	}
	var top float64
	line := func(xys plotter.XYs) (*plotter.Line, error) {
		for _, xy := range xys {
			top = max(top, xy.Y)
		}
		return plotter.NewLine(xys)
	}
	for k := range nSeeds {
		l, err := line(series(func(s Sample) int64 { return at(s, k) }))
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(k)
		l.Width = vg.Points(1.2)
		p.Add(l)
		label := fmt.Sprintf("seed %d", k+1)
		if k < len(r.Seeds) {
			switch sh := r.Seeds[k]; {
			case sh.Rate > 0:
				label += " (" + formatRate(sh.Rate) + ")"
			}
			if r.Seeds[k].Killed {
				label += " killed"
			}
			if r.Seeds[k].Stalls {
				label += " stalls"
			}
		}
		p.Legend.Add(label, l)
	}
	if nSeeds > 1 {
		l, err := line(series(func(s Sample) int64 {
			var sum int64
			for _, b := range s.Bytes {
				sum += b
			}
			return sum
		}))
		if err != nil {
			return err
		}
		l.Color = color.Black
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add("total", l)
	}
	// Room above the lines for the legend, one row per entry.
	rows := nSeeds
	if nSeeds > 1 {
		rows++
	}
	p.Y.Max = top * (1.1 + 0.07*float64(rows))
	return p.Save(18*vg.Centimeter, 10*vg.Centimeter, path)
}
