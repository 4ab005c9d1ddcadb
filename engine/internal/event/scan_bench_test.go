package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidwall/gjson"
)

func realisticTrack(b *testing.B) []byte {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "events", "realistic", "track.json"))
	if err != nil {
		b.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil {
		b.Fatal(err)
	}
	return c.Bytes()
}

// BenchmarkReset is the one pass every event costs: validate and index.
// The validators beside it put the figure in context on this machine.
func BenchmarkReset(b *testing.B) {
	ev := realisticTrack(b)
	b.Run("Doc.Reset", func(b *testing.B) {
		var d Doc
		b.SetBytes(int64(len(ev)))
		b.ReportAllocs()
		for b.Loop() {
			if err := d.Reset(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Doc.ResetNoCopy", func(b *testing.B) {
		var d Doc
		b.SetBytes(int64(len(ev)))
		b.ReportAllocs()
		for b.Loop() {
			if err := d.ResetNoCopy(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gjson.ValidBytes", func(b *testing.B) {
		b.SetBytes(int64(len(ev)))
		for b.Loop() {
			gjson.ValidBytes(ev)
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(ev)))
		for b.Loop() {
			json.Valid(ev)
		}
	})
}
