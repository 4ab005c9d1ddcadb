package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/spool"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

func init() {
	register(&command{name: "deadletter", summary: "list, show, replay and delete serve's dead letters", run: runDeadLetter})
}

const deadLetterUsage = `
Usage: intercom-actions deadletter list|show|replay|delete|purge [--data-dir DIR] [IDS...]

serve keeps in its data dir every event, or action of an event, that could
not be sent (the dead letters), with the reason.

  list               one line per dead letter: id, time, where it came from,
                     the rule and action that failed, and why
  show ID...         the dead letters in full, as JSON (the event included)
  replay [ID...]     put them back in serve's queue (all with no ids), each
                     limited to the rule that failed; serve sends them (at
                     once if it runs, else at its next start). A dead letter
                     whose outcome is unknown (a request cut off by a forced
                     stop: Intercom may have applied it) is replayed only
                     with --include-unknown.
  delete ID...       delete them
  purge --older-than D
                     delete those made more than D ago (e.g. 720h)

Dead letters count toward serve's --spool-max with the queued events: past
it, serve answers 503 until some are sent, replayed or deleted.

It works whether serve runs (through the admin socket in the data dir) or
not (opening the data dir itself).

Examples:
  intercom-actions deadletter list
  intercom-actions deadletter show 12
  intercom-actions deadletter replay 12 13
  intercom-actions deadletter replay --include-unknown
  intercom-actions deadletter delete 12 13
  intercom-actions deadletter purge --older-than 720h
`

// adminSocket is the file name of serve's admin socket in its data dir.
const adminSocket = "admin.sock"

func runDeadLetter(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("deadletter", deadLetterUsage, stderr, stdout)
	dataDir := fs.String("data-dir", defaultDataDir(), "serve's data dir")
	includeUnknown := fs.Bool("include-unknown", false, "replay: also the dead letters whose outcome is unknown")
	olderThan := fs.Duration("older-than", 0, "purge: delete the dead letters made more than this long ago (e.g. 720h)")
	sub, code, ok := parseSubcommand(fs, args, stdout, stderr, "deadletter: say list, show, replay, delete or purge")
	if !ok {
		return code
	}
	var ids []uint64
	for _, a := range fs.Args() {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "deadletter: %q is not a dead-letter id (a number, as list shows)\n", a)
			return 2
		}
		ids = append(ids, id)
	}
	st, err := openDeadLetters(*dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "deadletter: %v\n", err)
		return 1
	}
	defer st.close()
	switch sub {
	case "list":
		if len(ids) > 0 {
			fmt.Fprintln(stderr, "deadletter: list takes no ids (show does)")
			return 2
		}
		n, unknown := 0, 0
		err := st.list(func(dl spool.DeadLetter) error {
			n++
			what := dl.Rule
			if dl.Action != "" {
				what += " (" + dl.Action + ")"
			}
			if what == "" {
				what = "event"
			}
			mark := ""
			if dl.Outcome == processor.OutcomeUnknown {
				mark, unknown = " [outcome unknown]", unknown+1
			}
			_, err := fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s%s\n", dl.ID, dl.Time.UTC().Format(time.RFC3339), dl.Ref, what, dl.Error, mark)
			return err
		})
		if err != nil {
			fmt.Fprintf(stderr, "deadletter: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "%d dead letters", n)
		if unknown > 0 {
			fmt.Fprintf(stderr, ", %d with outcome unknown", unknown)
		}
		fmt.Fprintf(stderr, " in %s\n", *dataDir)
		return 0
	case "show":
		if len(ids) == 0 {
			fmt.Fprintln(stderr, "deadletter: show needs the ids of the dead letters (see list)")
			return 2
		}
		code := 0
		for _, id := range ids {
			dl, ok, err := st.get(id)
			switch {
			case err != nil:
				fmt.Fprintf(stderr, "deadletter: %v\n", err)
				return 1
			case !ok:
				fmt.Fprintf(stderr, "deadletter: no dead letter %d\n", id)
				code = 1
				continue
			}
			b, _ := json.MarshalIndent(dl, "", "  ")
			fmt.Fprintf(stdout, "%s\n", b)
		}
		return code
	case "replay":
		res, err := st.replay(ids, *includeUnknown)
		if err != nil {
			fmt.Fprintf(stderr, "deadletter: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "replayed %d dead letters into the queue%s\n", len(res.Replayed), st.after())
		if len(res.Unknown) > 0 {
			fmt.Fprintf(stdout, "not replayed: %d with outcome unknown (Intercom may have applied them; --include-unknown replays them): %s\n", len(res.Unknown), joinIDs(res.Unknown))
		}
		if len(res.Missing) > 0 {
			fmt.Fprintf(stderr, "deadletter: no dead letter %s\n", joinIDs(res.Missing))
			return 1
		}
		return 0
	case "delete":
		if len(ids) == 0 {
			fmt.Fprintln(stderr, "deadletter: delete needs the ids of the dead letters (see list; purge deletes by age)")
			return 2
		}
		res, err := st.remove(ids)
		if err != nil {
			fmt.Fprintf(stderr, "deadletter: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "deleted %d dead letters\n", len(res.Deleted))
		if len(res.Missing) > 0 {
			fmt.Fprintf(stderr, "deadletter: no dead letter %s\n", joinIDs(res.Missing))
			return 1
		}
		return 0
	case "purge":
		if len(ids) > 0 || *olderThan <= 0 {
			fmt.Fprintln(stderr, "deadletter: purge takes --older-than (e.g. 720h) and no ids (delete does)")
			return 2
		}
		n, err := st.purge(time.Now().Add(-*olderThan))
		if err != nil {
			fmt.Fprintf(stderr, "deadletter: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "deleted %d dead letters older than %s\n", n, *olderThan)
		return 0
	}
	fmt.Fprintf(stderr, "deadletter: unknown subcommand %q: say list, show, replay, delete or purge\n", sub)
	return 2
}

// parseSubcommand parses args as a subcommand first, then flags anywhere
// after it; with no subcommand it says say and the usage (exit 2).
func parseSubcommand(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, say string) (string, int, bool) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if code, ok := parse(fs, args, stdout); !ok {
			return "", code, false
		}
		fmt.Fprintln(stderr, say)
		fs.Usage()
		return "", 2, false
	}
	if code, ok := parse(fs, args[1:], stdout); !ok {
		return "", code, false
	}
	return args[0], 0, true
}

func joinIDs(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(s, " ")
}

// deadLetters reaches the dead letters: through a running serve's admin
// socket, or in the spool itself.
type deadLetters struct {
	sp     *spool.Spool // when opened here
	client *http.Client // when serve runs
}

func openDeadLetters(dir string) (*deadLetters, error) {
	sock := filepath.Join(dir, adminSocket)
	if _, err := os.Stat(sock); err == nil {
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			},
		}}
		if resp, err := c.Get("http://serve/deadletters/ping"); err == nil {
			resp.Body.Close()
			return &deadLetters{client: c}, nil
		}
		// A socket left by a serve that was killed: fall through.
	}
	sp, err := spool.Open(dir, spool.Options{MustExist: true})
	if errors.Is(err, spool.ErrLocked) {
		return nil, fmt.Errorf("%w, and its admin socket does not answer", err)
	}
	if err != nil {
		return nil, err
	}
	return &deadLetters{sp: sp}, nil
}

func (d *deadLetters) close() {
	if d.sp != nil {
		d.sp.Close()
	}
}

// after says when replayed events will be sent.
func (d *deadLetters) after() string {
	if d.sp != nil {
		return " (serve is not running: they are sent at its next start)"
	}
	return " (serve is sending them)"
}

// list calls fn with each dead letter, oldest first, reading them as it
// goes (the admin socket streams them a JSON line each): its memory does
// not grow with their number.
func (d *deadLetters) list(fn func(spool.DeadLetter) error) error {
	if d.sp != nil {
		return d.sp.DeadLetters(fn)
	}
	resp, err := d.client.Get("http://serve/deadletters")
	if err != nil {
		return fmt.Errorf("serve's admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("serve's admin socket: %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var dl spool.DeadLetter
		if err := dec.Decode(&dl); err == io.EOF {
			return errors.New("serve's admin socket: the list was cut short (no end mark)")
		} else if err != nil {
			return fmt.Errorf("serve's admin socket: %w", err)
		}
		if dl.ID == 0 { // the end mark: the list was sent whole
			return nil
		}
		if err := fn(dl); err != nil {
			return err
		}
	}
}

func (d *deadLetters) remove(ids []uint64) (spool.Deleted, error) {
	if d.sp != nil {
		return d.sp.DeleteDeadLetters(context.Background(), ids)
	}
	var res spool.Deleted
	err := d.call(http.MethodPost, "/deadletters/delete", removeRequest{IDs: ids}, &res)
	return res, err
}

func (d *deadLetters) purge(before time.Time) (int, error) {
	if d.sp != nil {
		return d.sp.PurgeDeadLetters(context.Background(), before)
	}
	var res struct{ Deleted int }
	err := d.call(http.MethodPost, "/deadletters/purge", removeRequest{Before: before}, &res)
	return res.Deleted, err
}

// removeRequest is the body of POST /deadletters/delete (IDs) and
// /deadletters/purge (Before).
type removeRequest struct {
	IDs    []uint64  `json:"ids,omitempty"`
	Before time.Time `json:"before,omitzero"`
}

func (d *deadLetters) get(id uint64) (spool.DeadLetter, bool, error) {
	if d.sp != nil {
		return d.sp.DeadLetterByID(id)
	}
	var dl spool.DeadLetter
	err := d.call(http.MethodGet, "/deadletters/"+strconv.FormatUint(id, 10), nil, &dl)
	if errors.Is(err, errNotFound) {
		return dl, false, nil
	}
	return dl, err == nil, err
}

func (d *deadLetters) replay(ids []uint64, includeUnknown bool) (spool.ReplayResult, error) {
	if d.sp != nil {
		return d.sp.Replay(context.Background(), ids, includeUnknown)
	}
	var res spool.ReplayResult
	err := d.call(http.MethodPost, "/deadletters/replay", replayRequest{IDs: ids, IncludeUnknown: includeUnknown}, &res)
	return res, err
}

var errNotFound = errors.New("not found")

// call makes one request to the admin socket.
func (d *deadLetters) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://serve"+path, body)
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("serve's admin socket: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNotFound
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("serve's admin socket: %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	return json.Unmarshal(data, out)
}

// replayRequest is the body of POST /deadletters/replay; IDs nil means all.
type replayRequest struct {
	IDs            []uint64 `json:"ids"`
	IncludeUnknown bool     `json:"include_unknown"`
}

// serveAdmin serves the dead letters on a Unix socket in the data dir,
// readable only by its owner (the socket file is 0600), for the
// deadletter command while serve runs.
func serveAdmin(dir string, sp *spool.Spool) (io.Closer, error) {
	sock := filepath.Join(dir, adminSocket)
	os.Remove(sock) // left by a serve that was killed; the spool's lock says none runs
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /deadletters/ping", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /deadletters", func(w http.ResponseWriter, r *http.Request) {
		// A JSON line each, as they are read, then an empty object: the end
		// mark (a list cut short by an error lacks it).
		enc := json.NewEncoder(w)
		if err := sp.DeadLetters(func(dl spool.DeadLetter) error { return enc.Encode(dl) }); err != nil {
			return // the client sees no end mark
		}
		w.Write([]byte("{}\n"))
	})
	mux.HandleFunc("POST /deadletters/delete", removeHandler(func(ctx context.Context, req removeRequest) (any, error) {
		return sp.DeleteDeadLetters(ctx, req.IDs)
	}))
	mux.HandleFunc("POST /deadletters/purge", removeHandler(func(ctx context.Context, req removeRequest) (any, error) {
		n, err := sp.PurgeDeadLetters(ctx, req.Before)
		return struct{ Deleted int }{n}, err
	}))
	mux.HandleFunc("GET /deadletters/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		dl, ok, err := sp.DeadLetterByID(id)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !ok:
			http.NotFound(w, r)
		default:
			json.NewEncoder(w).Encode(dl)
		}
	})
	mux.HandleFunc("POST /deadletters/replay", func(w http.ResponseWriter, r *http.Request) {
		var req replayRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := sp.Replay(r.Context(), req.IDs, req.IncludeUnknown)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(res)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return closerFunc(func() error { err := srv.Close(); os.Remove(sock); return err }), nil
}

// removeHandler serves a removeRequest with do, answering its result as
// JSON.
func removeHandler(do func(context.Context, removeRequest) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req removeRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := do(r.Context(), req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(res)
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
