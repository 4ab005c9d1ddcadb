package ndjson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// realistic is about 1 MB of NDJSON: the realistic Segment events (1-2 KB
// each once compacted), over and over.
func realistic(b *testing.B) []byte {
	var lines [][]byte
	for _, name := range []string{"identify.json", "group.json", "track.json"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "events", "realistic", name))
		if err != nil {
			b.Fatal(err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			b.Fatal(err)
		}
		lines = append(lines, c.Bytes())
	}
	var in bytes.Buffer
	for i := 0; in.Len() < 1<<20; i++ {
		in.Write(lines[i%len(lines)])
		in.WriteByte('\n')
	}
	return in.Bytes()
}

// BenchmarkReader reads realistic events. The bufio.Scanner beside it is
// the reader it replaced, for comparison.
func BenchmarkReader(b *testing.B) {
	in := realistic(b)
	b.Run("Reader", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			rd := NewReader(bytes.NewReader(in))
			for {
				l, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil || l.Err != nil {
					b.Fatal(err, l.Err)
				}
			}
		}
	})
	b.Run("bufio.Scanner", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			sc := bufio.NewScanner(bytes.NewReader(in))
			sc.Buffer(make([]byte, 64<<10), MaxLine)
			for sc.Scan() {
				if raw := bytes.TrimSpace(sc.Bytes()); len(raw) == 0 {
					continue
				}
			}
			if err := sc.Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
