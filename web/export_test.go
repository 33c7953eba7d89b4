package web

import (
	"net/http"
	"net/url"

	"github.com/tierup/tierup"
)

// CardFrom is, for the external tests, the card a posted payment form
// holds, read as the handlers read it.
func CardFrom(form url.Values) tierup.Card {
	card, _ := cardFrom(&http.Request{PostForm: form})
	return card
}
