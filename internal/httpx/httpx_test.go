package httpx

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"testing"

	"github.com/tierup/tierup"
)

// statuses lists every code of errors.go with the status both front ends
// answer. TestStatusCoversEveryCode fails for a code missing here.
var statuses = map[tierup.Code]int{
	tierup.CodeInvalid:                   http.StatusUnprocessableEntity,
	tierup.CodeNotFound:                  http.StatusNotFound,
	tierup.CodeUnauthenticated:           http.StatusUnauthorized,
	tierup.CodeForbidden:                 http.StatusForbidden,
	tierup.CodeConflict:                  http.StatusConflict,
	tierup.CodeInternal:                  http.StatusInternalServerError,
	tierup.CodeUnknownPlan:               http.StatusUnprocessableEntity,
	tierup.CodePlanUnavailable:           http.StatusUnprocessableEntity,
	tierup.CodeSamePlan:                  http.StatusUnprocessableEntity,
	tierup.CodeNotAnUpgrade:              http.StatusUnprocessableEntity,
	tierup.CodeCurrencyMismatch:          http.StatusUnprocessableEntity,
	tierup.CodeRemainingExceedsNewPeriod: http.StatusUnprocessableEntity,
	tierup.CodeUpgradeInProgress:         http.StatusConflict,
	tierup.CodeEmailTaken:                http.StatusConflict,
	tierup.CodeClockNotForward:           http.StatusUnprocessableEntity,
	tierup.CodeSandboxDisabled:           http.StatusNotFound,
	tierup.CodeResourceShortage:          http.StatusInternalServerError,
	tierup.CodeClusterUnreachable:        http.StatusServiceUnavailable,
	tierup.CodeGatewayUnavailable:        http.StatusServiceUnavailable,
	tierup.CodeDatabaseUnavailable:       http.StatusServiceUnavailable,
	tierup.CodeInvalidCard:               http.StatusUnprocessableEntity,
	tierup.CodeTermsNotAccepted:          http.StatusUnprocessableEntity,
	tierup.CodeIdempotencyKeyReused:      http.StatusUnprocessableEntity,
	tierup.CodeTooManyPaymentAttempts:    http.StatusTooManyRequests,
	tierup.CodeQuoteExpired:              http.StatusUnprocessableEntity,
	tierup.CodeQuoteUsed:                 http.StatusConflict,
	tierup.CodeQuoteInvalid:              http.StatusUnprocessableEntity,
	tierup.CodeInvalidState:              http.StatusConflict,
	tierup.CodeMigrationFailed:           http.StatusInternalServerError,
	tierup.CodeMigrationNotPossible:      http.StatusUnprocessableEntity,
	tierup.CodeNotReady:                  http.StatusServiceUnavailable,
	tierup.CodePaymentMethodInUse:        http.StatusConflict,
}

func TestStatus(t *testing.T) {
	for code, want := range statuses {
		t.Run(string(code), func(t *testing.T) {
			if got := Status(code); got != want {
				t.Errorf("Status(%s) = %d, want %d", code, got, want)
			}
			if got := StatusOf(tierup.Errorf(code, "x")); got != want {
				t.Errorf("StatusOf(%s error) = %d, want %d", code, got, want)
			}
		})
	}
	if got := StatusOf(http.ErrHandlerTimeout); got != http.StatusInternalServerError {
		t.Errorf("a plain error: %d", got)
	}
}

// TestStatusCoversEveryCode reads errors.go so that a new code cannot be
// added without deciding its status here.
func TestStatusCoversEveryCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("code %v is not a string literal", vs.Names)
				}
				code, _ := strconv.Unquote(lit.Value)
				n++
				if _, ok := statuses[tierup.Code(code)]; !ok {
					t.Errorf("code %q of errors.go has no status in this test (and maybe none in Status)", code)
				}
			}
		}
	}
	if n != len(statuses) {
		t.Errorf("errors.go declares %d codes, the table has %d", n, len(statuses))
	}
}

func TestClientIP(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"@", "@"}, // a unix socket has no port
	} {
		if got := ClientIP(tc.remote); got != tc.want {
			t.Errorf("ClientIP(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
