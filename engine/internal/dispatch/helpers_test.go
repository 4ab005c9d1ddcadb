package dispatch

import (
	"io"
	"sort"
)

type pipeWriter struct{ w *io.PipeWriter }

func ioPipe() (*io.PipeReader, pipeWriter) {
	r, w := io.Pipe()
	return r, pipeWriter{w}
}

func (p pipeWriter) write(s string) { p.w.Write([]byte(s)) }
func (p pipeWriter) close()         { p.w.Close() }

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
