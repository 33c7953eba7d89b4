// Package smtpmail sends tierup's email through an SMTP relay, and offers a
// stand-in that only logs for when no relay is configured.
package smtpmail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/tierup/tierup"
)

// DefaultTimeout bounds a Send when Config.Timeout is zero: a relay that
// stops answering must not hold an upgrade's notification step forever.
const DefaultTimeout = 30 * time.Second

// localName is what the client calls itself in EHLO.
const localName = "localhost"

// Config says how to reach the SMTP relay.
type Config struct {
	// Addr is the relay's host:port, usually port 587 (submission).
	Addr string
	// From is the sender, "Tierup <billing@tierup.example>" or a bare
	// address. It is both the From header and the envelope sender.
	From string
	// Username and Password, when Username is set, log in with AUTH PLAIN.
	// The password is sent only over TLS or to a loopback relay: Send
	// fails rather than send it in clear text over a network.
	Username, Password string
	// Timeout bounds one Send, from dialling to the end of the message;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// TLS configures STARTTLS. Nil verifies the relay against the system
	// roots; an empty ServerName means the host of Addr.
	TLS *tls.Config
}

// Mailer sends each message over its own SMTP connection. It holds no
// connection between sends, so it is safe for concurrent use and survives
// relay restarts without care.
type Mailer struct {
	cfg Config
}

var _ tierup.Mailer = (*Mailer)(nil)

// New returns a Mailer for cfg. Addresses are checked on each Send, so a
// bad From shows up as a failed send, not a failed start.
func New(cfg Config) *Mailer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TLS != nil {
		cfg.TLS = cfg.TLS.Clone()
	}
	return &Mailer{cfg: cfg}
}

// Send delivers m to the relay. It uses STARTTLS whenever the relay offers
// it, and gives up when ctx ends or the Timeout passes, whichever is first;
// the error then wraps ctx's cause (context.Canceled or
// context.DeadlineExceeded). Once the relay has accepted the message, a
// failure to say goodbye is ignored: reporting it would make the caller
// send the message twice.
func (ml *Mailer) Send(ctx context.Context, m tierup.Email) error {
	to, err := parseRecipient(m.To)
	if err != nil {
		return err
	}
	from, err := mail.ParseAddress(ml.cfg.From)
	if err != nil {
		return fmt.Errorf("smtpmail: invalid From address in the configuration: %w", err)
	}
	msg, err := buildMessage(from, to, m.Subject, m.Text, time.Now())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smtpmail: send to relay %s: %w", ml.cfg.Addr, context.Cause(ctx))
	}

	ctx, cancel := context.WithTimeoutCause(ctx, ml.cfg.Timeout,
		fmt.Errorf("smtpmail: no answer from the relay within %s: %w", ml.cfg.Timeout, context.DeadlineExceeded))
	defer cancel()
	if err := ml.send(ctx, from.Address, to.Address, msg); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("smtpmail: send to relay %s: %w: %w", ml.cfg.Addr, context.Cause(ctx), err)
		}
		return fmt.Errorf("smtpmail: send to relay %s: %w", ml.cfg.Addr, err)
	}
	return nil
}

// Check connects to the relay, says EHLO, starts TLS when offered and logs
// in when a username is configured, then quits without sending: what an
// operator's `tierup doctor` runs to find a wrong address, certificate or
// password before the first customer's email fails.
func (ml *Mailer) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, ml.cfg.Timeout,
		fmt.Errorf("smtpmail: no answer from the relay within %s: %w", ml.cfg.Timeout, context.DeadlineExceeded))
	defer cancel()
	if err := ml.send(ctx, "", "", nil); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("smtpmail: relay %s: %w: %w", ml.cfg.Addr, context.Cause(ctx), err)
		}
		return fmt.Errorf("smtpmail: relay %s: %w", ml.cfg.Addr, err)
	}
	return nil
}

// send delivers msg; a nil msg only opens the session (see Check).
func (ml *Mailer) send(ctx context.Context, from, to string, msg []byte) error {
	host, _, err := net.SplitHostPort(ml.cfg.Addr)
	if err != nil {
		return fmt.Errorf("invalid address: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ml.cfg.Addr)
	if err != nil {
		return err
	}
	// go-smtp sets its own deadline on each command and clears it after,
	// so closing the connection is the one way to stop it when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	// ctx bounds the whole exchange. go-smtp's own per-command timeouts
	// are set past it so that a slow relay is reported as ctx's cause,
	// not as a bare i/o timeout.
	commandTimeout := ml.cfg.Timeout + time.Second
	if deadline, ok := ctx.Deadline(); ok {
		commandTimeout = time.Until(deadline) + time.Second
	}

	c := smtp.NewClient(conn)
	c.CommandTimeout = commandTimeout
	c.SubmissionTimeout = commandTimeout
	if err := c.Hello(localName); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if c, err = startTLS(conn, ml.tlsConfig(host), commandTimeout); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if ml.cfg.Username != "" {
		if err := ml.auth(c, conn.RemoteAddr()); err != nil {
			return err
		}
	}
	if msg == nil {
		return c.Quit()
	}
	if err := c.SendMail(from, []string{to}, bytes.NewReader(msg)); err != nil {
		return err
	}
	_ = c.Quit() // the relay has the message: see Send
	return nil
}

func (ml *Mailer) tlsConfig(host string) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ml.cfg.TLS != nil {
		cfg = ml.cfg.TLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

// startTLS upgrades conn, on which a first client has already read the
// greeting and seen STARTTLS offered. go-smtp can only upgrade a client
// that has not spoken yet, so a second client takes over the connection
// with the greeting replayed to it; it then says EHLO again (RFC 5321
// allows that) and starts TLS. Nothing is lost in between: the relay
// sends nothing after its EHLO reply until it hears from us.
func startTLS(conn net.Conn, cfg *tls.Config, timeout time.Duration) (*smtp.Client, error) {
	replayed := &greetedConn{Conn: conn, r: io.MultiReader(strings.NewReader("220 "+localName+" ESMTP\r\n"), conn)}
	c, err := smtp.NewClientStartTLS(replayed, cfg)
	if err != nil {
		return nil, err
	}
	c.CommandTimeout = timeout
	c.SubmissionTimeout = timeout
	// The handshake itself happens on the next command; do it now so that
	// a certificate error is reported as such.
	if err := c.Hello(localName); err != nil {
		return nil, err
	}
	return c, nil
}

// greetedConn is a connection whose first bytes read are a replayed
// greeting; see startTLS.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func (c *greetedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// auth logs in with PLAIN, refusing to expose the password on a
// connection that is neither encrypted nor local.
func (ml *Mailer) auth(c *smtp.Client, remote net.Addr) error {
	_, isTLS := c.TLSConnectionState()
	if !authAllowed(isTLS, remote) {
		return errors.New("the relay offers no STARTTLS and is not on loopback: refusing to send the password in clear text")
	}
	if !c.SupportsAuth(sasl.Plain) {
		return errors.New("the relay does not offer AUTH PLAIN")
	}
	if err := c.Auth(sasl.NewPlainClient("", ml.cfg.Username, ml.cfg.Password)); err != nil {
		return fmt.Errorf("AUTH: %w", err)
	}
	return nil
}

func authAllowed(isTLS bool, remote net.Addr) bool {
	if isTLS {
		return true
	}
	tcp, ok := remote.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// parseRecipient checks the To address before anything is sent, so that a
// bad address fails alone instead of after a round trip to the relay.
func parseRecipient(to string) (*mail.Address, error) {
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return nil, fmt.Errorf("smtpmail: invalid recipient address: %w", err)
	}
	return addr, nil
}

// buildMessage renders an RFC 5322 message. The body is quoted-printable
// so that the message is 7-bit clean and no line is too long for any relay,
// whatever the text holds.
func buildMessage(from, to *mail.Address, subject, text string, now time.Time) ([]byte, error) {
	id, err := messageID(from.Address)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", from.String())
	header("To", to.String())
	header("Subject", encodeSubject(subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(text, "\r\n", "\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		// SMTP ends every message with a line break. A soft one keeps it
		// out of the decoded text, which then ends exactly as given.
		b.WriteString("=\r\n")
	}
	return b.Bytes(), nil
}

// encodeSubject encodes a subject that is not plain ASCII as RFC 2047
// words, one per folded line. Line breaks are encoded too, so a subject
// cannot smuggle in headers.
func encodeSubject(s string) string {
	return strings.ReplaceAll(mime.QEncoding.Encode("utf-8", s), "?= =?", "?=\r\n =?")
}

// messageID makes a unique Message-ID in the sender's domain, as RFC 5322
// asks, so replies and bounces thread and deduplicate correctly.
func messageID(from string) (string, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("smtpmail: message ID: %w", err)
	}
	domain := "localhost"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">", nil
}

// LogMailer stands in for a relay in development: it logs who would have
// got which message instead of sending it, so the service runs without an
// SMTP server. The body is not logged: it may carry links that act as
// credentials.
type LogMailer struct {
	log *slog.Logger
}

var _ tierup.Mailer = (*LogMailer)(nil)

// NewLog returns a LogMailer writing to log, or to slog.Default() when log
// is nil.
func NewLog(log *slog.Logger) *LogMailer {
	if log == nil {
		log = slog.Default()
	}
	return &LogMailer{log: log}
}

// Send checks the recipient as Mailer.Send does, so that development shows
// the same errors, and logs the message at info level.
func (l *LogMailer) Send(ctx context.Context, m tierup.Email) error {
	to, err := parseRecipient(m.To)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smtpmail: %w", context.Cause(ctx))
	}
	l.log.InfoContext(ctx, "email not sent: no SMTP server configured",
		slog.String("to", to.Address), slog.String("subject", m.Subject))
	return nil
}
