package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/receiptpdf"
)

type receiptOutput struct {
	Body *tierup.Receipt
}

type receiptsOutput struct {
	Body struct {
		Data []*tierup.Receipt `json:"data"`
	}
}

func (s *Server) receiptRoutes() {
	tags := []string{"Receipts"}
	register(s, huma.Operation{OperationID: "list-receipts", Method: http.MethodGet, Path: "/v1/receipts",
		Summary:     "The calling account's receipts and credit notes, newest first",
		Description: "One receipt per successful charge, one credit note per refund, numbered in one gapless series per year (TU-2026-000001). Each is a snapshot taken when it was issued. GET /v1/receipts/{id}.pdf is the PDF.",
		Tags:        tags},
		authAccount, func(ctx context.Context, _ *struct{}) (*receiptsOutput, error) {
			rs, err := s.app.Receipts(ctx, principal(ctx).Account.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &receiptsOutput{}
			out.Body.Data = rs
			return out, nil
		})
	register(s, huma.Operation{OperationID: "get-receipt", Method: http.MethodGet, Path: "/v1/receipts/{id}",
		Summary: "A receipt or credit note (its account, or the admin)", Description: "Append .pdf to the path for the PDF.", Tags: tags},
		authAny, func(ctx context.Context, in *idPath) (*receiptOutput, error) {
			r, err := s.app.Receipt(ctx, principal(ctx), in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &receiptOutput{Body: r}, nil
		})
	// The PDF is served outside huma (receiptFile: "{id}.pdf" is no whole
	// path segment), so it is described here for the document alone.
	problem := map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorModel"}}}
	s.api.OpenAPI().AddOperation(&huma.Operation{OperationID: "get-receipt-pdf", Method: http.MethodGet, Path: "/v1/receipts/{id}.pdf",
		Summary:     "A receipt or credit note as a PDF (its account, or the admin)",
		Description: "The same snapshot as GET /v1/receipts/{id}, laid out for print, served inline with its number as the file name.",
		Tags:        tags, Security: []map[string][]string{{"bearer": {}}},
		Parameters: []*huma.Param{{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: huma.TypeString},
			Description: "The receipt's ID, e.g. rcpt_…"}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The PDF.", Content: map[string]*huma.MediaType{"application/pdf": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}},
			"401": {Description: "No API token, or an unknown one.", Content: problem},
			"404": {Description: "No such receipt, or another account's.", Content: problem},
		}})
}

// receiptFile serves GET /v1/receipts/{id}.pdf and hands every other
// /v1/receipts/{id} to the JSON operation: a path pattern's wildcard is a
// whole segment, so "{id}.pdf" cannot be a route of its own.
func (s *Server) receiptFile(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutSuffix(r.PathValue("file"), ".pdf")
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			writeProblem(w, newProblem(http.StatusUnauthorized, tierup.CodeUnauthenticated, `send an API token as "Authorization: Bearer <token>"`))
			return
		}
		p, err := s.app.Authenticate(r.Context(), token)
		if err != nil {
			writeProblem(w, problemOf(err))
			return
		}
		rc, err := s.app.Receipt(r.Context(), p, id)
		if err == nil {
			err = receiptpdf.Serve(w, rc)
		}
		if err != nil {
			_ = s.fail(r.Context(), err) // logs an internal error
			writeProblem(w, problemOf(err))
		}
	}
}
