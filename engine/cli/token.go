package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/intercom-actions/intercom-actions/engine/internal/auth"
	"github.com/intercom-actions/intercom-actions/engine/processor"
)

// missingToken says, when no token can be found for cfg (and no --api-base
// says where else to send), how to give one and how to try the command
// offline; "" when there is a token or an API base. A service that
// started without one would deliver nowhere.
func missingToken(cmd string, cfg processor.Config, offline string) string {
	if cfg.APIBase != "" || cfg.TokenSource != nil {
		return ""
	}
	_, _, err := auth.TokenSource(cfg.TokenFile)
	if !errors.Is(err, fs.ErrNotExist) {
		return "" // a token, or a problem of the token file the client reports
	}
	where := cfg.TokenFile
	if where == "" {
		where, _ = auth.DefaultPath()
	}
	return fmt.Sprintf("%[1]s: no Intercom token (%[2]s is not set, and there is no token file at %[3]s), so nothing could reach Intercom. Give one:\n"+
		"  - set %[2]s to an access token,\n"+
		"  - or --token-file FILE, a token as 'intercom-actions auth login' saves it,\n"+
		"  - or run 'intercom-actions auth login' once.\n"+
		"To try it offline, with an Intercom simulator (nothing reaches Intercom): %[4]s\n",
		cmd, auth.EnvToken, where, offline)
}

// checkToken asks Intercom whose token p sends (GET /me) before a command
// starts delivering, and logs the admin, the workspace and its region
// with log. It refuses (ok false, with the exit status) a token Intercom
// refuses and a workspace in another region than the API host, saying how
// to fix it on w; when Intercom cannot be asked (unreachable), it warns
// with log and lets the start go on. With a nil log (send) it says
// nothing but the refusals.
func checkToken(cmd string, p *processor.Processor, log *slog.Logger, w io.Writer) (code int, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	me, err := p.CheckToken(ctx)
	var re *processor.RegionError
	switch {
	case errors.As(err, &re):
		fmt.Fprintf(w, "%s: %v\n", cmd, err)
		return 2, false
	case errors.Is(err, processor.ErrUnauthorized):
		fmt.Fprintf(w, "%s: Intercom refuses the token: %v\n  check it with 'intercom-actions auth status': it is mistyped, was revoked, "+
			"or belongs to a workspace in another region (--region)\n", cmd, err)
		return 1, false
	case err != nil:
		if log != nil { // send says so as its run meets it
			log.Warn(cmd+": the token could not be checked (GET /me); starting anyway: delivery waits until Intercom answers", "error", err)
		}
		return 0, true
	case me == nil: // a dry run
		return 0, true
	}
	if log != nil {
		log.Info(cmd+": Intercom takes the token", "admin", me.Name, "admin_id", me.ID,
			"workspace", me.App.Name, "workspace_id", me.App.IDCode, "region", me.App.Region)
	}
	return 0, true
}

// reloadTokenOnHUP reads the token again and has it checked on each
// SIGHUP, so a paused delivery resumes as soon as a good token is in
// place; the returned func stops it.
func reloadTokenOnHUP(cmd string, p *processor.Processor, log *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				log.Info(cmd + ": SIGHUP: reading the token again")
				p.ReloadToken()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
