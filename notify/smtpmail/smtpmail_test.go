package smtpmail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/smtptest"
	"github.com/tierup/tierup/notify/smtpmail"
)

// waitCtx bounds how long a test waits for the server, so that a bug fails
// the test instead of hanging it.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSendDelivers(t *testing.T) {
	srv := smtptest.Start(t)
	m := smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "Tierup Billing <billing@tierup.test>"})
	text := "Bonjour Zoë,\n\nVotre forfait Pro est actif : 29,00 € débités.\n" +
		".\n" + // a lone dot would end the DATA were it not stuffed
		"..two dots\n" +
		strings.Repeat("long line ", 40) + "\n" +
		"trailing space \n" +
		"日本語のテキスト"
	email := tierup.Email{To: "Zoë Martin <zoe@example.com>", Subject: "Votre mise à niveau est prête ✓", Text: text}
	if err := m.Send(waitCtx(t), email); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs, err := srv.WaitFor(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	got := msgs[0]
	if got.From != "billing@tierup.test" {
		t.Errorf("envelope sender = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "zoe@example.com" {
		t.Errorf("envelope recipients = %q", got.To)
	}
	if got.Subject != email.Subject {
		t.Errorf("subject = %q, want %q", got.Subject, email.Subject)
	}
	if got.Body != text {
		t.Errorf("body = %q\nwant %q", got.Body, text)
	}
	if got.TLS || got.Username != "" {
		t.Errorf("TLS %v, user %q: want a plain anonymous session", got.TLS, got.Username)
	}

	for i, line := range strings.Split(string(got.Raw), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d is %d characters long: %q", i, len(line), line)
		}
		for _, c := range []byte(line) {
			if c >= 0x80 || c == '\n' || c == '\r' {
				t.Fatalf("line %d is not 7-bit clean: %q", i, line)
			}
		}
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(got.Raw))
	if err != nil {
		t.Fatalf("the message does not parse: %v", err)
	}
	h := parsed.Header
	for name, want := range map[string]string{
		"MIME-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?") {
		t.Errorf("raw Subject %q is not Q-encoded", h.Get("Subject"))
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Tierup Billing" || from[0].Address != "billing@tierup.test" {
		t.Errorf("From = %v (%v)", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Zoë Martin" || to[0].Address != "zoe@example.com" {
		t.Errorf("To = %v (%v)", to, err)
	}
	if date, err := h.Date(); err != nil || time.Since(date).Abs() > time.Hour {
		t.Errorf("Date = %q (%v)", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !regexp.MustCompile(`^<[0-9a-f]{32}@tierup\.test>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
}

func TestSendASCIISubjectStaysReadable(t *testing.T) {
	srv := smtptest.Start(t)
	m := smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "billing@tierup.test"})
	if err := m.Send(waitCtx(t), tierup.Email{To: "a@example.com", Subject: "Your upgrade is done", Text: "Hi"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(msgs[0].Raw, []byte("\r\nSubject: Your upgrade is done\r\n")) {
		t.Errorf("raw message:\n%s", msgs[0].Raw)
	}
	if msgs[0].Body != "Hi" {
		t.Errorf("body = %q", msgs[0].Body)
	}
}

func TestSendSubjectCannotInjectHeaders(t *testing.T) {
	srv := smtptest.Start(t)
	m := smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "billing@tierup.test"})
	subject := "Hello\r\nBcc: victim@example.com"
	if err := m.Send(waitCtx(t), tierup.Email{To: "a@example.com", Subject: subject, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(msgs[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if bcc := parsed.Header.Get("Bcc"); bcc != "" {
		t.Errorf("the subject injected Bcc: %q", bcc)
	}
	if msgs[0].Subject != subject {
		t.Errorf("subject = %q, want %q", msgs[0].Subject, subject)
	}
}

func TestSendUsesSTARTTLSAndAuth(t *testing.T) {
	srv := smtptest.StartTLS(t)
	m := smtpmail.New(smtpmail.Config{
		Addr: srv.Addr(), From: "billing@tierup.test",
		Username: "tierup", Password: "secret",
		TLS: srv.ClientTLSConfig(),
	})
	if err := m.Send(waitCtx(t), tierup.Email{To: "a@example.com", Subject: "s", Text: "over TLS"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs, err := srv.WaitFor(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !msgs[0].TLS {
		t.Error("the message did not come over TLS")
	}
	if msgs[0].Username != "tierup" {
		t.Errorf("username = %q, want tierup", msgs[0].Username)
	}
	if msgs[0].Body != "over TLS" {
		t.Errorf("body = %q", msgs[0].Body)
	}
}

func TestSendVerifiesTheRelayCertificate(t *testing.T) {
	srv := smtptest.StartTLS(t)
	// No TLS config: the test certificate is not among the system roots.
	m := smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "billing@tierup.test", Username: "tierup", Password: "secret"})
	err := m.Send(waitCtx(t), tierup.Email{To: "a@example.com", Subject: "s", Text: "x"})
	if err == nil {
		t.Fatal("Send trusted an unknown certificate")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q does not name the certificate", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages arrived", n)
	}
}

func TestSendAuthToLoopbackWithoutTLS(t *testing.T) {
	srv := smtptest.Start(t)
	m := smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "billing@tierup.test", Username: "tierup", Password: "secret"})
	if err := m.Send(waitCtx(t), tierup.Email{To: "a@example.com", Subject: "s", Text: "x"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs, err := srv.WaitFor(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].TLS || msgs[0].Username != "tierup" {
		t.Errorf("TLS %v, user %q: want plain text as tierup", msgs[0].TLS, msgs[0].Username)
	}
}

func TestSendRefusesBadAddressesWithoutContactingTheRelay(t *testing.T) {
	srv := smtptest.Start(t)
	for _, tc := range []struct{ name, from, to string }{
		{"empty To", "billing@tierup.test", ""},
		{"no @", "billing@tierup.test", "not-an-address"},
		{"two recipients", "billing@tierup.test", "a@example.com, b@example.com"},
		{"header injection", "billing@tierup.test", "a@example.com\r\nBcc: victim@example.com"},
		{"unclosed angle", "billing@tierup.test", "Zoë <zoe@example.com"},
		{"bad From", "billing", "a@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: tc.from})
			err := m.Send(waitCtx(t), tierup.Email{To: tc.to, Subject: "s", Text: "x"})
			if err == nil {
				t.Fatal("Send accepted the address")
			}
			if errors.Unwrap(err) == nil {
				t.Errorf("error %q wraps no cause", err)
			}
		})
	}
	if n := srv.Sessions(); n != 0 {
		t.Errorf("the relay was contacted %d times", n)
	}
}

// unusedAddr returns a loopback address on which nothing listens.
func unusedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSendRelayDown(t *testing.T) {
	m := smtpmail.New(smtpmail.Config{Addr: unusedAddr(t), From: "billing@tierup.test"})
	err := m.Send(waitCtx(t), tierup.Email{To: "a@example.com", Subject: "s", Text: "x"})
	if err == nil {
		t.Fatal("Send succeeded with no relay")
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "dial" {
		t.Errorf("error %q does not wrap the dial error", err)
	}
}

// silentRelay accepts connections and never answers, like a relay that has
// hung. Each accepted connection is reported on the returned channel.
func silentRelay(t *testing.T) (addr string, accepted <-chan struct{}) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String(), ch
}

func TestSendHonoursCancellation(t *testing.T) {
	addr, accepted := silentRelay(t)
	m := smtpmail.New(smtpmail.Config{Addr: addr, From: "billing@tierup.test", Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- m.Send(ctx, tierup.Email{To: "a@example.com", Subject: "s", Text: "x"}) }()

	wait := waitCtx(t)
	select {
	case <-accepted:
	case <-wait.Done():
		t.Fatal("Send never connected")
	}
	cancel() // while Send waits for the greeting
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
	case <-wait.Done():
		t.Fatal("Send ignored the cancellation")
	}
}

func TestSendHonoursTimeout(t *testing.T) {
	addr, _ := silentRelay(t)
	m := smtpmail.New(smtpmail.Config{Addr: addr, From: "billing@tierup.test", Timeout: 50 * time.Millisecond})
	err := m.Send(waitCtx(t), tierup.Email{To: "a@example.com", Subject: "s", Text: "x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
}

func TestSendCancelledBeforeStart(t *testing.T) {
	srv := smtptest.Start(t)
	m := smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "billing@tierup.test"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Send(ctx, tierup.Email{To: "a@example.com", Subject: "s", Text: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if n := srv.Sessions(); n != 0 {
		t.Errorf("the relay was contacted %d times", n)
	}
}

func TestSendConcurrently(t *testing.T) {
	srv := smtptest.Start(t)
	m := smtpmail.New(smtpmail.Config{Addr: srv.Addr(), From: "billing@tierup.test"})
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- m.Send(waitCtx(t), tierup.Email{To: fmt.Sprintf("user%d@example.com", i), Subject: "s", Text: "x"})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	msgs, err := srv.WaitFor(waitCtx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, msg := range msgs {
		seen[msg.To[0]] = true
	}
	if len(seen) != n {
		t.Errorf("recipients = %v, want %d different", seen, n)
	}
}

func TestLogMailer(t *testing.T) {
	var buf bytes.Buffer
	m := smtpmail.NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	err := m.Send(context.Background(), tierup.Email{To: "Zoë <zoe@example.com>", Subject: "Votre reçu", Text: "https://tierup.test/reset?token=secret"})
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	if rec["level"] != "INFO" || rec["to"] != "zoe@example.com" || rec["subject"] != "Votre reçu" {
		t.Errorf("log record = %v", rec)
	}
	if strings.Contains(buf.String(), "secret") {
		t.Errorf("the body was logged: %s", buf.String())
	}

	buf.Reset()
	if err := m.Send(context.Background(), tierup.Email{To: "nobody", Subject: "s"}); err == nil {
		t.Error("LogMailer accepted an invalid address")
	}
	if buf.Len() != 0 {
		t.Errorf("a refused message was logged: %s", buf.String())
	}
}
