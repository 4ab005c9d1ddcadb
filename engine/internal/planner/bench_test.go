package planner

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/intercom-actions/intercom-actions/engine"
	"github.com/intercom-actions/intercom-actions/rules"
)

// BenchmarkPlanWorkload is `intercom-actions plan` without the process:
// the shared workload (../shared/bench/gen_events.py, 30,000 events) read
// from memory, evaluated and rendered as JSON on every core, and written in
// order to a buffered io.Discard. One op is the whole input; ns/event is
// what .ci/bench-plan compares with Segment's engine, less start-up.
func BenchmarkPlanWorkload(b *testing.B) {
	gen := filepath.Join("..", "..", "..", "..", "shared", "bench", "gen_events.py")
	if _, err := os.Stat(gen); err != nil {
		b.Skipf("no shared workload generator (%v)", err)
	}
	const n = 30000
	in, err := exec.Command("python3", gen, fmt.Sprint(n)).Output()
	if err != nil {
		b.Skipf("gen_events.py: %v", err)
	}
	set, err := rules.ParseAll(rules.Defaults()...)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.Compile(set)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		out := bufio.NewWriterSize(io.Discard, 64<<10)
		sum, err := RunWith(eng, bytes.NewReader(in), Options{Render: AppendJSON}, func(r *Result) error {
			_, err := out.Write(r.Output)
			return err
		})
		if err != nil || sum.Events != n {
			b.Fatalf("%+v, %v", sum, err)
		}
		out.Flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}
