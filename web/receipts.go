package web

import (
	"net/http"
	"strings"

	"github.com/tierup/tierup/receiptpdf"
)

// receiptPDF serves /receipts/{id}.pdf, the link of the history page and
// of the completion email, to the signed-in account that owns it.
func (s *Server) receiptPDF(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".pdf")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rc, err := s.app.Receipt(r.Context(), principal(v), id)
	if err == nil {
		err = receiptpdf.Serve(w, rc)
	}
	if err != nil {
		s.fail(w, r, err)
	}
}
