package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/httpx"
)

// Problem is an RFC 9457 problem document with tierup's machine-readable
// code. Every error the API returns has this shape.
type Problem struct {
	Type   string         `json:"type" doc:"URI identifying the problem type; ends with the code."`
	Title  string         `json:"title" doc:"Short summary of the HTTP status."`
	Status int            `json:"status"`
	Code   string         `json:"code" doc:"Stable machine-readable error code, e.g. not_an_upgrade."`
	Detail string         `json:"detail" doc:"What went wrong, for a person."`
	Errors []ProblemField `json:"errors,omitempty" doc:"Each invalid input field."`
	// Problems lists why a move to dedicated nodes cannot succeed
	// (migration_not_possible).
	Problems []tierup.PreflightProblem `json:"problems,omitempty" doc:"With migration_not_possible: each workload that cannot move, and why."`
	// Checks is every readiness check's result (not_ready).
	Checks map[string]string `json:"checks,omitempty" doc:"With not_ready: each readiness check and its result, ok or why it failed."`
}

// ProblemField names one invalid field. It never echoes the value, which
// could be a secret such as a card number.
type ProblemField struct {
	Location string `json:"location" doc:"Where the field is, e.g. body.timezone."`
	Message  string `json:"message"`
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

func newProblem(status int, code tierup.Code, detail string) *Problem {
	return &Problem{Type: "https://tierup.dev/problems/" + string(code), Title: http.StatusText(status),
		Status: status, Code: string(code), Detail: detail}
}

// problemOf turns a domain error into a Problem; anything else is an
// internal error whose details stay in the log.
func problemOf(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var e *tierup.Error
	if !errors.As(err, &e) || httpx.Status(e.Code) == http.StatusInternalServerError {
		return newProblem(http.StatusInternalServerError, tierup.CodeInternal, "something went wrong on our side; it has been logged")
	}
	prob := newProblem(httpx.Status(e.Code), e.Code, e.Error())
	for _, f := range e.Fields {
		prob.Errors = append(prob.Errors, ProblemField{Location: f.Location, Message: f.Message})
	}
	if pe := (*tierup.PreflightError)(nil); errors.As(err, &pe) {
		prob.Problems = pe.Problems
	}
	return prob
}

// codeForStatus names the errors huma itself raises (bad JSON, unknown
// fields, oversized bodies …).
func codeForStatus(status int) tierup.Code {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusNotAcceptable:
		return "not_acceptable"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusUnprocessableEntity:
		return tierup.CodeInvalid
	case http.StatusNotFound:
		return tierup.CodeNotFound
	case http.StatusUnauthorized:
		return tierup.CodeUnauthenticated
	case http.StatusForbidden:
		return tierup.CodeForbidden
	}
	return tierup.CodeInternal
}

// huma's own errors (request validation, body parsing) arrive as
// *huma.ErrorModel; this transformer gives them the Problem shape.
func problemTransformer(_ huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	p := newProblem(em.Status, codeForStatus(em.Status), em.Detail)
	if p.Status == http.StatusInternalServerError {
		p.Detail = "something went wrong on our side; it has been logged"
	}
	for _, d := range em.Errors {
		loc, msg := apiWords(d.Location, d.Message)
		if p.Status == http.StatusBadRequest && loc == "body" {
			msg = "not valid JSON: " + msg
		}
		p.Errors = append(p.Errors, ProblemField{Location: loc, Message: msg})
	}
	switch {
	case p.Status == http.StatusUnsupportedMediaType:
		p.Detail = "send the request body as JSON with \"Content-Type: application/json\""
	case len(p.Errors) == 1:
		p.Detail = p.Errors[0].Location + ": " + p.Errors[0].Message
	case len(p.Errors) > 1:
		p.Detail = fmt.Sprintf("%d fields are invalid; see errors", len(p.Errors))
	}
	return p, nil
}
