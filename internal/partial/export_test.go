package partial

// ClaimedBytes returns the size of the claimed blocks (PresentBytes less
// Bytes), for the tests.
func (f *File) ClaimedBytes() int64 { return f.tally().claimedBytes }
