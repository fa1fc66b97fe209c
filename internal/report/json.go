package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
)

// JSON writes r as indented JSON: the stable form (Format) documented in
// docs/API.md. Characters are not HTML-escaped: commands read as they were.
//
// The bytes are those of encoding/json's indented encoder on the whole
// report (the golden files hold it to that), but written a field at a
// time and the timeline an entry at a time, so that a 100,000-action
// report streams instead of being built whole in memory first.
func JSON(w io.Writer, r *Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// encode writes v as it would appear at depth within the report.
	encode := func(v any, depth int) error {
		buf.Reset()
		enc.SetIndent(strings.Repeat("  ", depth), "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		_, err := bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		return err
	}
	rv := reflect.ValueOf(r).Elem()
	rt := rv.Type()
	bw.WriteString("{")
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  \"" + name + "\": ")
		v := rv.Field(i)
		if v.Kind() == reflect.Slice && v.Len() > 0 {
			// An array an element at a time, as the encoder lays it out.
			bw.WriteString("[")
			for j := range v.Len() {
				if j > 0 {
					bw.WriteString(",")
				}
				bw.WriteString("\n    ")
				if err := encode(v.Index(j).Interface(), 2); err != nil {
					return err
				}
			}
			bw.WriteString("\n  ]")
			continue
		}
		if err := encode(v.Interface(), 1); err != nil {
			return err
		}
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}
