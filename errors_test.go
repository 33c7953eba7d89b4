package tierup_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/tierup/tierup"
)

// TestEveryCodeHasASentinel reads errors.go: each Code constant needs an
// Err… sentinel of that code, so callers never compare ErrorCode results.
func TestEveryCodeHasASentinel(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	sentinels := map[string]string{} // code constant → sentinel
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range g.Specs {
			vs, ok := spec.(*ast.ValueSpec)
			if !ok {
				continue
			}
			if id, ok := vs.Type.(*ast.Ident); g.Tok == token.CONST && ok && id.Name == "Code" {
				for _, n := range vs.Names {
					codes = append(codes, n.Name)
				}
			}
			if g.Tok != token.VAR || len(vs.Values) != 1 {
				continue
			}
			u, ok := vs.Values[0].(*ast.UnaryExpr)
			if !ok {
				continue
			}
			lit, ok := u.X.(*ast.CompositeLit)
			if !ok || len(lit.Elts) != 1 {
				continue
			}
			if kv, ok := lit.Elts[0].(*ast.KeyValueExpr); ok {
				if v, ok := kv.Value.(*ast.Ident); ok {
					sentinels[v.Name] = vs.Names[0].Name
				}
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("no codes found in errors.go")
	}
	for _, c := range codes {
		if sentinels[c] == "" {
			t.Errorf("%s has no sentinel in errors.go", c)
		}
	}
}

func TestSentinelsMatchByCode(t *testing.T) {
	for _, tc := range []struct {
		err      error
		sentinel error
		want     bool
	}{
		{tierup.Errorf(tierup.CodeNotFound, "quote q not found"), tierup.ErrNotFound, true},
		{fmt.Errorf("loading: %w", tierup.Errorf(tierup.CodeQuoteExpired, "expired")), tierup.ErrQuoteExpired, true},
		{tierup.Errorf(tierup.CodeQuoteExpired, "expired"), tierup.ErrQuoteUsed, false},
		{errors.New("plain"), tierup.ErrInternal, false},
		{tierup.Invalid(tierup.FieldError{Location: "body.x", Message: "bad"}), tierup.ErrInvalid, true},
	} {
		if got := errors.Is(tc.err, tc.sentinel); got != tc.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", tc.err, tc.sentinel, got, tc.want)
		}
	}
}
