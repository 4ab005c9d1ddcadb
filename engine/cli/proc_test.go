package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/simulator"
	"github.com/intercom-actions/intercom-actions/engine/simulator/contract"
)

// The subprocess tests run the real binary, built once per test run.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(holdEnv); spec != "" { // a process of BenchmarkServeIdleConnections
		os.Exit(holdConnections(spec))
	}
	code := contract.Main(m) // every simulator exchange checked against Intercom's description, those of the processes run too (checkExchanges)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary returns the path of the intercom-actions binary, building it on
// first use, with the tests' hooks (-tags testhooks: see testhook.go).
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "intercom-actions-test"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "intercom-actions")
		out, err := exec.Command("go", "build", "-tags", "testhooks", "-o", binPath, "github.com/intercom-actions/intercom-actions/cmd/intercom-actions").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running intercom-actions process.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	code   int
}

// start runs the binary with args in dir (the test's working directory if
// empty), with no Intercom token and a fresh home; the test's end kills it
// if it still runs, then checks the exchanges of the simulator it ran, if
// any (serve --intercom sim, simulate), against Intercom's description.
func start(t testing.TB, dir string, args ...string) *proc {
	t.Helper()
	return startEnv(t, dir, nil, args...)
}

// startEnv is start with more environment variables.
func startEnv(t testing.TB, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(binary(t), args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	exchanges := filepath.Join(t.TempDir(), "exchanges.ndjson")
	p.cmd.Env = append(os.Environ(), "INTERCOM_ACCESS_TOKEN=", "XDG_CONFIG_HOME="+t.TempDir(), "HOME="+t.TempDir(), exchangesEnv+"="+exchanges)
	p.cmd.Env = append(p.cmd.Env, env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		checkExchanges(t, exchanges)
	})
	return p
}

// checkExchanges hands the exchanges a process's simulator logged at path
// (see exchangesEnv) to the contract check; there is no file when the
// process ran none.
func checkExchanges(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	} else if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	for dec := json.NewDecoder(f); ; {
		var ex simulator.Exchange
		if err := dec.Decode(&ex); err == io.EOF {
			return
		} else if err != nil {
			t.Errorf("%s: %v", path, err)
			return
		}
		contract.Observe(ex)
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code; it kills
// it and fails the test after limit.
func (p *proc) wait(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("%s did not exit within %s; stderr:\n%s", strings.Join(p.cmd.Args, " "), limit, p.stderr.String())
		return -1
	}
}

// waitFor polls cond until it holds; it fails the test after limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForStderr waits until p has written want to stderr; after limit,
// or should p exit without writing it, it fails the test with what p
// wrote. Read stderr this way for a line p writes on its own, at a moment
// the test does not control.
func (p *proc) waitForStderr(t testing.TB, limit time.Duration, want string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(p.stderr.String(), want) {
		if !p.running() {
			if strings.Contains(p.stderr.String(), want) { // written just before the exit
				return
			}
			t.Fatalf("exited %d without writing %q:\n%s", p.code, want, p.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not written after %s:\n%s", want, limit, p.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// running says whether the process still runs.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// workload is n events (n/5 users in 50 companies) of
// simulator.Workload, as NDJSON.
func workload(n int) string {
	return strings.Join(simulator.Workload(n/5, 50), "\n") + "\n"
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// canonical is the simulator state in a form equal across runs.
func canonical(t testing.TB, st simulator.State) string {
	t.Helper()
	b, err := json.MarshalIndent(st.Canonical(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cleanState sends events to a fresh simulator, in-process, and returns its
// canonical state: what any run that loses and duplicates nothing ends with.
func cleanState(t testing.TB, events string) string {
	t.Helper()
	return cleanStateWith(t, simulator.Options{}, events, 0)
}

// cleanStateWith is cleanState with a simulator of opts and send's args
// added; the run must exit code (1 when it dead-letters something).
func cleanStateWith(t testing.TB, opts simulator.Options, events string, code int, args ...string) string {
	t.Helper()
	sim := simulator.NewServer(opts)
	defer sim.Close()
	dir := t.TempDir()
	path := writeFile(t, dir, "events.ndjson", events)
	args = append([]string{"send", "--api-base", sim.URL(), "--checkpoint", filepath.Join(dir, "cp"), "--dead-letter", filepath.Join(dir, "dl")}, args...)
	if got, _, errOut := runCLI(t, "", append(args, path)...); got != code {
		t.Fatalf("clean run: exit %d, want %d\n%s", got, code, errOut)
	}
	return canonical(t, sim.State())
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

// TestSimulateLogsExchanges: `simulate`, run by a test, logs every
// exchange with its answer for the contract check (exchangesEnv), so that
// the exchanges of a simulator in another process are checked as those of
// the test binary's own simulators are.
func TestSimulateLogsExchanges(t *testing.T) {
	log := filepath.Join(t.TempDir(), "exchanges.ndjson")
	p := startEnv(t, "", []string{exchangesEnv + "=" + log}, "simulate", "--addr", "127.0.0.1:0")
	on := regexp.MustCompile(`^Intercom simulator on (http://[0-9.:]+) `)
	var base string
	waitFor(t, 10*time.Second, "simulate to listen", func() bool {
		if m := on.FindStringSubmatch(p.stdout.String()); m != nil {
			base = m[1]
		}
		return base != "" || !p.running()
	})
	if code, body := get(t, base+"/me"); code != 200 {
		t.Fatalf("GET /me: %d %s", code, body)
	}
	p.signal(syscall.SIGINT)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("simulate exited %d:\n%s", code, p.stderr.String())
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var ex simulator.Exchange
	if err := json.Unmarshal(b, &ex); err != nil || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("the log is not one exchange (%v):\n%s", err, b)
	}
	if ex.Request.Method != "GET" || ex.Request.Path != "/me" || ex.Status != 200 || !strings.Contains(string(ex.Body), `"type":"admin"`) {
		t.Errorf("logged %+v", ex)
	}
	checkExchanges(t, log)
}
