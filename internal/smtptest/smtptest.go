// Package smtptest runs a real SMTP server inside a test, so that mail code
// is tested over the wire, with its quirks (dot-stuffing, STARTTLS, AUTH),
// rather than against a fake of its own making. The server listens on
// loopback only, accepts every sender and recipient and keeps what it gets.
package smtptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// maxMessageBytes bounds what one message may hold, so that a runaway
// sender fails its test instead of eating memory.
const maxMessageBytes = 10 << 20

// Message is one message the server accepted.
type Message struct {
	From     string   // envelope sender (MAIL FROM)
	To       []string // envelope recipients (RCPT TO)
	Subject  string   // the Subject header, RFC 2047 words decoded
	Body     string   // the body with its transfer encoding undone and CRLF turned to LF
	Raw      []byte   // the message as received, headers and body
	TLS      bool     // it came over a connection upgraded with STARTTLS
	Username string   // the PLAIN user the client authenticated as; "" if none
}

// Server is a running test SMTP server.
type Server struct {
	t         testing.TB
	srv       *smtp.Server
	addr      string
	clientTLS *tls.Config

	mu       sync.Mutex
	msgs     []Message
	arrived  chan struct{} // closed and replaced whenever a message arrives
	sessions int
	closed   bool
}

// Start starts a plain-text server on 127.0.0.1 and stops it when the test
// ends. It offers AUTH PLAIN even without TLS (any credentials pass), so
// that clients that authenticate to a loopback relay can be tested.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, nil, nil)
}

// StartTLS is Start with STARTTLS offered, using a certificate for
// 127.0.0.1 made for this server alone. Clients must trust it through
// ClientTLSConfig, so a test also shows that certificates are verified.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	cert, roots, err := selfSigned()
	if err != nil {
		t.Fatalf("smtptest: make certificate: %v", err)
	}
	return start(t,
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
}

func start(t testing.TB, serverTLS, clientTLS *tls.Config) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{t: t, addr: l.Addr().String(), clientTLS: clientTLS, arrived: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.TLSConfig = serverTLS
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = maxMessageBytes
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = logger{s}
	s.srv = srv

	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		// Silence the server first: connections it drops while closing
		// may log after the test has ended, which testing forbids.
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		srv.Close()
		l.Close() // Close misses a listener that Serve has not registered yet
		<-served
	})
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// ClientTLSConfig returns a client configuration that trusts the server's
// certificate, or nil for a server started without TLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneMessages(s.msgs)
}

// Sessions counts the SMTP sessions (EHLO or HELO) clients have opened,
// so that a test can show a client never contacted the server at all.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// WaitFor waits until at least n messages have arrived and returns all of
// them. When ctx ends first it returns the messages so far and ctx's error,
// so that a test fails with what it did get instead of hanging.
func (s *Server) WaitFor(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		msgs, arrived := cloneMessages(s.msgs), s.arrived
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			msgs := s.Messages()
			return msgs, fmt.Errorf("smtptest: %d of %d messages arrived: %w", len(msgs), n, ctx.Err())
		}
	}
}

func cloneMessages(msgs []Message) []Message {
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		m.To = append([]string(nil), m.To...)
		m.Raw = bytes.Clone(m.Raw)
		out[i] = m
	}
	return out
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &session{srv: s, tls: isTLS}, nil
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *Server) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.t.Logf("smtptest: "+format, args...)
	}
}

// logger sends the server's own errors to the test log.
type logger struct{ s *Server }

func (l logger) Printf(format string, v ...any) { l.s.logf(format, v...) }
func (l logger) Println(v ...any)               { l.s.logf("%s", strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }

// session is one client connection's state: the envelope being built.
type session struct {
	srv      *Server
	tls      bool
	username string
	from     string
	to       []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.username = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: s.from, To: append([]string(nil), s.to...), Raw: raw, TLS: s.tls, Username: s.username}
	if m.Subject, m.Body, err = decode(raw); err != nil {
		// Refuse what a real server's filters would choke on, so that the
		// sender's test sees the error.
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "smtptest: malformed message: " + err.Error()}
	}
	s.srv.add(m)
	return nil
}

func (s *session) Reset() {
	s.from, s.to = "", nil
}

func (s *session) Logout() error { return nil }

// decode returns the decoded subject and text body of a single-part
// message. Multipart bodies are returned as they are.
func decode(raw []byte) (subject, body string, err error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", "", err
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return "", "", fmt.Errorf("subject: %w", err)
	}
	var r io.Reader = msg.Body
	switch cte := strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding"))); cte {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r) // skips line breaks
	case "", "7bit", "8bit", "binary":
	default:
		return "", "", fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", "", fmt.Errorf("body: %w", err)
	}
	return subject, strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}
