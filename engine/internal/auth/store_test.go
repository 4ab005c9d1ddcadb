package auth

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func skipPermsOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("unix file modes")
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestSaveLoadRoundTrip(t *testing.T) {
	skipPermsOnWindows(t)
	dir := filepath.Join(t.TempDir(), "conf", "intercom-actions")
	path := filepath.Join(dir, "token.json")
	tok := &oauth2.Token{AccessToken: testToken, TokenType: "Bearer"}
	if err := Save(path, tok); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("token file mode %#o, want 0600", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("token dir mode %#o, want 0700", m)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != testToken || got.TokenType != "Bearer" || !got.Expiry.IsZero() {
		t.Errorf("Load = %+v", got)
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "token.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("dir holds %v, want only token.json", names)
	}
}

func TestSaveTightensExistingFile(t *testing.T) {
	skipPermsOnWindows(t)
	path := filepath.Join(t.TempDir(), "token.json")
	if err := os.WriteFile(path, []byte(`{"access_token":"old"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // despite the umask
		t.Fatal(err)
	}
	if err := Save(path, &oauth2.Token{AccessToken: "new"}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("token file mode %#o after Save over a 0644 file, want 0600", m)
	}
	if tok, err := Load(path); err != nil || tok.AccessToken != "new" {
		t.Errorf("Load = %v, %v; want the new token", tok, err)
	}
}

func TestSaveRefusesEmptyToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	for _, tok := range []*oauth2.Token{nil, {}} {
		if err := Save(path, tok); err == nil {
			t.Errorf("Save(%v) succeeded", tok)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Save of an empty token left a file: %v", err)
	}
}

func TestTokenFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load error %v does not wrap fs.ErrNotExist", err)
	}
	want := "not logged in: run `intercom-actions auth login` (no token file at " + path + ")"
	if err.Error() != want {
		t.Errorf("Load error:\n %s\nwant:\n %s", err, want)
	}
}

func TestTokenFileOpenToOthersRefused(t *testing.T) {
	skipPermsOnWindows(t)
	path := filepath.Join(t.TempDir(), "token.json")
	if err := Save(path, &oauth2.Token{AccessToken: testToken}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := "token file " + path + " is open to other users (mode 0644): run `chmod 600 " + path + "`"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Load error %v, want prefix %q", err, want)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows the token: %v", err)
	}
}

func TestTokenFileCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	for content, want := range map[string]string{
		`{"access_token": "tok-secret`: "is not valid token JSON",
		`{"token_type": "Bearer"}`:     "holds no access token",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "tok-secret") {
			t.Errorf("Load(%s) error = %v, want %q and no content", content, err, want)
		}
	}
}

func TestTokenRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	if err := Save(path, &oauth2.Token{AccessToken: testToken}); err != nil {
		t.Fatal(err)
	}
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if err := Remove(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Remove = %v, want fs.ErrNotExist", err)
	}
}

func TestTokenDefaultPath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG_CONFIG_HOME is Linux's")
	}
	t.Setenv("XDG_CONFIG_HOME", "/conf")
	p, err := DefaultPath()
	if err != nil || p != "/conf/intercom-actions/token.json" {
		t.Errorf("DefaultPath = %q, %v", p, err)
	}
}

func TestTokenSourcePrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	if err := Save(path, &oauth2.Token{AccessToken: "from-file"}); err != nil {
		t.Fatal(err)
	}

	// The environment wins over the file.
	t.Setenv(EnvToken, "from-env")
	ts, name, err := TokenSource(path)
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := ts.Token(); name != EnvToken || tok.AccessToken != "from-env" {
		t.Errorf("with %s set: source %q, token %q", EnvToken, name, tok.AccessToken)
	}

	// Blank counts as unset: the file is used.
	t.Setenv(EnvToken, "  ")
	ts, name, err = TokenSource(path)
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := ts.Token(); name != path || tok.AccessToken != "from-file" {
		t.Errorf("with %s blank: source %q, token %q", EnvToken, name, tok.AccessToken)
	}

	// Neither: the error names both ways.
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	_, _, err = TokenSource(path)
	want := "no intercom token: set INTERCOM_ACCESS_TOKEN to an access token, or run `intercom-actions auth login` (no token file at " + path + ")"
	if err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("TokenSource error:\n %v\nwant:\n %s", err, want)
	}
}

func TestTokenSourceDefaultPath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG_CONFIG_HOME is Linux's")
	}
	conf := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", conf)
	t.Setenv(EnvToken, "")
	path := filepath.Join(conf, "intercom-actions", "token.json")
	if err := Save(path, &oauth2.Token{AccessToken: "stored"}); err != nil {
		t.Fatal(err)
	}
	ts, name, err := TokenSource("")
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := ts.Token(); name != path || tok.AccessToken != "stored" {
		t.Errorf("source %q, token %q", name, tok.AccessToken)
	}
}
