package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/tierup/tierup"
)

// checkBodies refuses request bodies that encoding/json would read, but not
// as the client meant them, before the operation sees them:
//   - bytes that are not UTF-8 (encoding/json would replace them silently);
//   - an object with the same key twice: encoding/json keeps the last, so
//     {"card": {declined…}, "card": {good…}} would pay with the second card
//     while a proxy or log that reads the first shows another. Keys are
//     compared without case, as encoding/json matches them to fields.
//
// Webhooks are left alone: their signature covers the exact bytes, and the
// sender is not a client of this API.
func checkBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || strings.HasPrefix(r.URL.Path, "/v1/webhooks/") {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
				writeProblem(w, newProblem(http.StatusRequestEntityTooLarge, codeForStatus(http.StatusRequestEntityTooLarge),
					fmt.Sprintf("the request body is larger than %d KiB", maxBody>>10)))
				return
			}
			writeProblem(w, newProblem(http.StatusBadRequest, codeForStatus(http.StatusBadRequest), "the request body could not be read"))
			return
		}
		if !utf8.Valid(body) {
			writeProblem(w, newProblem(http.StatusBadRequest, codeForStatus(http.StatusBadRequest), "the request body is not valid UTF-8: JSON text must be"))
			return
		}
		if loc, key, dup := duplicateKey(body); dup {
			p := newProblem(http.StatusUnprocessableEntity, tierup.CodeInvalid, "")
			p.Errors = []ProblemField{{Location: loc, Message: fmt.Sprintf("%q appears more than once in the same object: send each field once", key)}}
			p.Detail = loc + ": " + p.Errors[0].Message
			writeProblem(w, p)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
}

// duplicateKey finds the first object key of body that repeats one before it
// in the same object, and where it is (body.card). A body that is not JSON
// has none: the operation reports the syntax error.
func duplicateKey(body []byte) (location, key string, found bool) {
	if !json.Valid(body) {
		return "", "", false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	location, key, found, _ = scanValue(dec, "body")
	return location, key, found
}

// scanValue reads one JSON value from dec, looking for repeated keys in its
// objects.
func scanValue(dec *json.Decoder, at string) (location, key string, found bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return "", "", false, err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", "", false, err
			}
			k, _ := kt.(string)
			if folded := strings.ToLower(k); seen[folded] {
				return at + "." + k, k, true, nil
			} else {
				seen[folded] = true
			}
			if l, dk, f, err := scanValue(dec, at+"."+k); f || err != nil {
				return l, dk, f, err
			}
		}
		_, err = dec.Token() // }
		return "", "", false, err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if l, dk, f, err := scanValue(dec, fmt.Sprintf("%s[%d]", at, i)); f || err != nil {
				return l, dk, f, err
			}
		}
		_, err = dec.Token() // ]
		return "", "", false, err
	}
	return "", "", false, nil
}

// goTypeError matches encoding/json's UnmarshalTypeError text, which names
// Go types and struct fields (cardInput.card.exp_month of type int).
var goTypeError = regexp.MustCompile(`^(?:json: )?cannot unmarshal (\w+)[^"]*?(?: into Go (?:struct field [^.\s]+\.(\S+)|value) of type (\S+))$`)

// apiWords restates a body decoding error of encoding/json in the API's
// terms: the field's location as the errors list gives it, and what the
// field takes instead of the Go type. Other messages are kept.
func apiWords(location, message string) (string, string) {
	m := goTypeError.FindStringSubmatch(message)
	if m == nil {
		if strings.Contains(message, "Go ") { // a form this does not know: never show Go's names
			return location, "has a value of the wrong type"
		}
		return location, message
	}
	if m[2] != "" {
		location = "body." + m[2]
	}
	switch goType := strings.TrimLeft(m[3], "*[]"); {
	case strings.HasPrefix(m[3], "[]"):
		return location, "must be a list"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		if m[1] == "number" {
			return location, "must be a whole number small enough for this field"
		}
		return location, "must be a whole number"
	case strings.HasPrefix(goType, "float"):
		return location, "must be a number"
	case goType == "string":
		return location, "must be a string"
	case goType == "bool":
		return location, "must be true or false"
	case goType == "time.Time":
		return location, "must be an RFC 3339 time such as 2026-03-01T00:00:00Z"
	default:
		return location, "must be an object"
	}
}
