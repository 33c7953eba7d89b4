package smtptest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/tierup/tierup/internal/smtptest"
)

func TestServerCapturesAndDecodes(t *testing.T) {
	srv := smtptest.Start(t)
	raw := "From: a@example.com\r\n" +
		"To: b@example.com\r\n" +
		"Subject: =?utf-8?b?w6l0w6k=?=\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"bGlnbmUgMQpsaWduZSAy\r\n"
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("a@example.com", []string{"b@example.com", "c@example.com"}, strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := srv.WaitFor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.From != "a@example.com" || len(m.To) != 2 || m.To[1] != "c@example.com" {
		t.Errorf("envelope = %q → %q", m.From, m.To)
	}
	if m.Subject != "été" || m.Body != "ligne 1\nligne 2" {
		t.Errorf("subject %q, body %q", m.Subject, m.Body)
	}
	if string(m.Raw) != raw {
		t.Errorf("raw = %q", m.Raw)
	}
}

func TestWaitForGivesUpWithCtx(t *testing.T) {
	srv := smtptest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msgs, err := srv.WaitFor(ctx, 1)
	if !errors.Is(err, context.Canceled) || len(msgs) != 0 {
		t.Errorf("WaitFor = %v, %v; want no messages and context.Canceled", msgs, err)
	}
	if msgs, err := srv.WaitFor(ctx, 0); err != nil || len(msgs) != 0 {
		t.Errorf("WaitFor(0) = %v, %v", msgs, err)
	}
}
