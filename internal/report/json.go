package report

import (
	"encoding/json"
	"io"
)

// JSON writes r as indented JSON: the stable form (Format) documented in
// docs/API.md. Characters are not HTML-escaped: commands read as they were.
func JSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
