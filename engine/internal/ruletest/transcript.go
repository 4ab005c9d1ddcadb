package ruletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/tools/txtar"

	"github.com/intercom-actions/intercom-actions/engine/internal/delivery"
	"github.com/intercom-actions/intercom-actions/engine/processor"
	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/rules"
)

// transcriptToken is the bearer token the transcript's simulator expects.
const transcriptToken = "golden-token"

// Transcript sends the case's events through the dispatcher and the
// Intercom client to a fresh simulator, one event at a time in input order,
// and renders every request the simulator received: method, path, compact
// JSON body and the status it answered, then the dead letters, the
// executor's warnings ("log:" lines) and the counts.
// The case's `-- options --` section, if any, sets the simulated workspace
// and how custom attributes are handled (see caseOptions).
// Ids in paths and bodies are the simulator's, which are deterministic.
func (rn Runner) Transcript(ar *txtar.Archive) ([]byte, error) {
	sent, err := rn.Send(ar)
	if err != nil {
		return nil, err
	}
	return sent.Transcript, nil
}

// Sent is what sending a case's events to a fresh simulator did.
type Sent struct {
	// Transcript is the want-http form (see Transcript); when the rules do
	// not load, it holds their errors and nothing was sent.
	Transcript []byte
	Requests   []simulator.Request // what the simulator received
	State      simulator.State     // the simulator's workspace at the end
}

// Send sends the case's events to a fresh simulator (see Transcript).
func (rn Runner) Send(ar *txtar.Archive) (Sent, error) {
	events, ok := section(ar, EventsFile)
	if !ok {
		return Sent{}, fmt.Errorf("no `-- %s --` section", EventsFile)
	}
	eng, opts, err := rn.engine(ar)
	var list rules.ErrorList
	switch {
	case errors.As(err, &list):
		return Sent{Transcript: []byte("rules failed to load:\n" + err.Error() + "\n")}, nil
	case err != nil:
		return Sent{}, err
	}
	sim := simulator.NewServer(simulator.Options{Token: transcriptToken, DataAttributes: opts.workspace})
	defer sim.Close()
	var dead, logs bytes.Buffer
	p, err := processor.New(processor.Config{
		Engine:                 eng,
		APIBase:                sim.URL(),
		TokenSource:            oauth2.StaticTokenSource(&oauth2.Token{AccessToken: transcriptToken}),
		CustomAttributes:       opts.attributes,
		IntercomVersion:        opts.version,
		SpreadSameSecondEvents: opts.spread,
		Concurrency:            1, // one worker: requests in input order, so the transcript is exact
		ContactWait:            time.Second,
		SearchWait:             time.Second, // the simulator's search does not lag: no wait past ContactWait
		MinBackoff:             time.Millisecond,
		MaxBackoff:             10 * time.Millisecond,
		Logger:                 slog.New(slog.NewTextHandler(&logs, logOptions)),
	})
	if err != nil {
		return Sent{}, err
	}
	defer p.Close()
	sum, err := p.Run(context.Background(), delivery.NewLineSource(EventsFile, bytes.NewReader(events)),
		processor.Sink{DeadLetters: delivery.DeadLetterWriter(&dead)})
	if err != nil {
		return Sent{}, err
	}

	sent := Sent{Requests: sim.Requests(), State: sim.State()}
	var out bytes.Buffer
	for _, r := range sent.Requests {
		line := r.Method + " " + r.Path
		if r.Query != "" {
			line += "?" + r.Query
		}
		if len(r.Body) > 0 {
			line += " " + string(r.Body)
		}
		fmt.Fprintf(&out, "%s\n  → %d\n", line, r.Status)
	}
	if err := writeDeadLetters(&out, &dead); err != nil {
		return Sent{}, err
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line != "" {
			fmt.Fprintf(&out, "log: %s\n", line)
		}
	}
	if sum.SameSecond > 0 {
		fmt.Fprintf(&out, "same second: %d track events of one name for one contact in a second another had; %d spread\n", sum.SameSecond, sum.Spread)
	}
	fmt.Fprintf(&out, "summary: %d events: %d sent, %d skipped, %d failed; %d actions sent, %d dead-lettered; %d calls\n",
		sum.Events, sum.Sent, sum.Skipped, sum.Failed, sum.ActionsSent, sum.DeadLettered, p.Stats().Calls)
	sent.Transcript = out.Bytes()
	return sent, nil
}

// logOptions log the executor's warnings (custom attributes dropped),
// without the time, so the transcript is stable.
var logOptions = &slog.HandlerOptions{
	Level: slog.LevelWarn,
	ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	},
}

// writeDeadLetters lists the dead letters without their timestamps.
func writeDeadLetters(w io.Writer, dead *bytes.Buffer) error {
	for _, line := range strings.Split(strings.TrimSpace(dead.String()), "\n") {
		if line == "" {
			continue
		}
		if i := strings.LastIndex(line, `,"time":`); i >= 0 {
			line = line[:i] + "}"
		}
		if _, err := fmt.Fprintf(w, "dead letter: %s\n", line); err != nil {
			return err
		}
	}
	return nil
}
