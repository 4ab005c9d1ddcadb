package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/oauth2"
)

// EnvToken is the environment variable holding an Intercom access token
// (a workspace access token of a private app, or any OAuth token). When set
// and not blank it takes precedence over the stored token.
const EnvToken = "INTERCOM_ACCESS_TOKEN"

// DefaultPath returns where the token is stored by default:
// intercom-actions/token.json under os.UserConfigDir (on Linux
// $XDG_CONFIG_HOME or ~/.config).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the token file: %w", err)
	}
	return filepath.Join(dir, "intercom-actions", "token.json"), nil
}

// Save writes tok to path as JSON, readable and writable by its owner only
// (0600). A missing directory is created with mode 0700. The file is
// written to a temporary file in the same directory and renamed over path,
// so a reader never sees half a token, and a file that was there before
// ends up 0600 too.
func Save(path string, tok *oauth2.Token) error {
	if tok == nil || tok.AccessToken == "" {
		return errors.New("save token: no access token")
	}
	data, err := json.MarshalIndent(tok, "", "  ")
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	f, err := os.CreateTemp(dir, ".token-*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return fmt.Errorf("save token: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("save token: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save token: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("save token: %w", err)
	}
	return nil
}

// Load reads a token written by Save. A missing file gives an error that
// wraps fs.ErrNotExist and tells the user to run `intercom-actions auth
// login`. A file that other users may read or write (any of mode 0077) is
// refused, as is one without an access token.
func Load(path string) (*oauth2.Token, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, missingError("not logged in: run `intercom-actions auth login` (no token file at " + path + ")")
	}
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("read token: %s is a directory", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("token file %s is open to other users (mode %#o): run `chmod 600 %s`, "+
			"and log in again if others may have read it", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	var tok oauth2.Token
	if err := json.Unmarshal(data, &tok); err != nil {
		// The JSON error may quote the file's content: leave it out.
		return nil, fmt.Errorf("token file %s is not valid token JSON: run `intercom-actions auth login` again", path)
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("token file %s holds no access token: run `intercom-actions auth login` again", path)
	}
	return &tok, nil
}

// Remove deletes the token file at path. A missing file gives an error that
// wraps fs.ErrNotExist.
func Remove(path string) error {
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove token: %w", err)
	}
	return nil
}

// TokenSource returns the token to call Intercom with and where it comes
// from: the INTERCOM_ACCESS_TOKEN environment variable when it is set (the
// name is then "INTERCOM_ACCESS_TOKEN"), else the token stored at path (the
// name is then the path; "" means DefaultPath). With neither, the error
// names both ways to provide a token.
func TokenSource(path string) (oauth2.TokenSource, string, error) {
	if v := strings.TrimSpace(os.Getenv(EnvToken)); v != "" {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: v, TokenType: "Bearer"}), EnvToken, nil
	}
	if path == "" {
		p, err := DefaultPath()
		if err != nil {
			return nil, "", fmt.Errorf("no intercom token: set %s, or run `intercom-actions auth login` (%w)", EnvToken, err)
		}
		path = p
	}
	tok, err := Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", missingError("no intercom token: set " + EnvToken + " to an access token, " +
			"or run `intercom-actions auth login` (no token file at " + path + ")")
	}
	if err != nil {
		return nil, "", err
	}
	return oauth2.StaticTokenSource(tok), path, nil
}

// missingError is a message about a missing token file; it matches
// fs.ErrNotExist with errors.Is.
type missingError string

func (e missingError) Error() string { return string(e) }
func (e missingError) Unwrap() error { return fs.ErrNotExist }
