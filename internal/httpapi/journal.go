package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/report"
)

// The endpoints that read the journal whole or in bulk: verify (with a
// checkpoint's anchor), the head for checkpoints, the incident report and
// the export.

// queryParams reads a query whose parameters each appear at most once and
// are among allowed: a typo must not silently widen a query.
func queryParams(q url.Values, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, gatehouse.Errorf(gatehouse.EINVALID, "unknown query parameter %q", k)
		}
		if len(v) != 1 {
			return nil, gatehouse.Errorf(gatehouse.EINVALID, "query parameter %s given %d times", k, len(v))
		}
		out[k] = v[0]
	}
	return out, nil
}

// verify: GET /v1/verify[?seq=N&hash=H].
func (s *Server) verify(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	q, err := queryParams(r.URL.Query(), "seq", "hash")
	if err != nil {
		s.error(w, r, err)
		return
	}
	var rep *gatehouse.VerifyReport
	switch seq, hash := q["seq"], q["hash"]; {
	case seq == "" && hash == "":
		rep, err = s.gw.Verify(r.Context(), p)
	case seq == "" || hash == "":
		err = gatehouse.Errorf(gatehouse.EINVALID, "a checkpoint needs both seq and hash")
	default:
		n, perr := strconv.ParseInt(seq, 10, 64)
		if perr != nil {
			err = gatehouse.Errorf(gatehouse.EINVALID, "invalid seq %q", seq)
			break
		}
		rep, err = s.gw.VerifyAnchored(r.Context(), p, gatehouse.Anchor{Seq: n, Hash: hash})
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// head: GET /v1/head.
func (s *Server) head(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	if !s.noQuery(w, r) {
		return
	}
	e, err := s.gw.Head(r.Context(), p)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, client.Head{Seq: e.Seq, Hash: e.Hash, Count: e.Seq, Time: e.Time})
}

// Incident formats: the query's format parameter and the content type of
// each.
var incidentFormats = map[string]string{
	"json": "application/json",
	"md":   "text/markdown; charset=utf-8",
	"html": "text/html; charset=utf-8",
}

// incident: GET /v1/incident?since&until&agent&session&format. The report
// is built first (errors are ordinary error answers), then rendered
// straight into the response.
func (s *Server) incident(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	q, err := queryParams(r.URL.Query(), "since", "until", "agent", "session", "format")
	if err != nil {
		s.error(w, r, err)
		return
	}
	var rq report.Query
	now := s.now()
	if rq.Since, err = gatehouse.ParseTimeBound(q["since"], now); err == nil {
		rq.Until, err = gatehouse.ParseTimeBound(q["until"], now)
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	rq.Agent, rq.Session = q["agent"], q["session"]
	format := q["format"]
	if format == "" {
		format = "json"
	}
	ctype, ok := incidentFormats[format]
	if !ok {
		s.error(w, r, gatehouse.Errorf(gatehouse.EINVALID, "invalid format %q: use json, md or html", format))
		return
	}
	rep, err := s.gw.Incident(r.Context(), p, rq)
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	switch format {
	case "md":
		err = report.Markdown(w, rep)
	case "html":
		err = report.HTML(w, rep)
	default:
		err = report.JSON(w, rep)
	}
	if err != nil {
		s.logError(r, err)
		panic(http.ErrAbortHandler) // the client sees the answer cut off, not a short one
	}
}

// export: GET /v1/export?since&until&agent&after, NDJSON, one event a line,
// written as it is read.
func (s *Server) export(w http.ResponseWriter, r *http.Request, p gatehouse.Principal) {
	q, err := queryParams(r.URL.Query(), "since", "until", "agent", "after")
	if err != nil {
		s.error(w, r, err)
		return
	}
	var eq gateway.ExportQuery
	now := s.now()
	if eq.Since, err = gatehouse.ParseTimeBound(q["since"], now); err == nil {
		eq.Until, err = gatehouse.ParseTimeBound(q["until"], now)
	}
	if err == nil && q["after"] != "" {
		if eq.After, err = strconv.ParseInt(q["after"], 10, 64); err != nil || eq.After < 0 {
			err = gatehouse.Errorf(gatehouse.EINVALID, "invalid after %q: a sequence number", q["after"])
		}
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	eq.Agent = q["agent"]
	var bw *bufio.Writer
	var line []byte
	begin := func() {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		bw = bufio.NewWriterSize(w, 64<<10)
	}
	err = s.gw.Export(r.Context(), p, eq, func(e gateway.ExportedEvent) error {
		if bw == nil {
			begin()
		}
		line = AppendExportLine(line[:0], e)
		_, err := bw.Write(line)
		return err
	})
	switch {
	case err != nil && bw == nil:
		s.error(w, r, err)
		return
	case err != nil:
		s.logError(r, err)
		panic(http.ErrAbortHandler) // cut off: the client must not take a part for the whole
	case bw == nil:
		begin() // nothing matched: an empty body
	}
	if bw.Flush() != nil {
		panic(http.ErrAbortHandler)
	}
}

// AppendExportLine appends e as one line of the export: its fields in the
// order of gateway.ExportedEvent, the data exactly as journaled (the bytes
// that were hashed; a payload that is not JSON, which only a tampered
// journal holds, is given as a JSON string), and a newline.
func AppendExportLine(b []byte, e gateway.ExportedEvent) []byte {
	str := func(s string) {
		q, _ := json.Marshal(s)
		b = append(b, q...)
	}
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"time":`...)
	str(e.Time.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"type":`...)
	str(string(e.Type))
	b = append(b, `,"subject":`...)
	str(e.Subject)
	if e.Agent != "" {
		b = append(b, `,"agent":`...)
		str(e.Agent)
	}
	b = append(b, `,"data":`...)
	if json.Valid(e.Data) && !bytes.ContainsAny(e.Data, "\r\n") {
		b = append(b, e.Data...)
	} else {
		str(string(e.Data))
	}
	b = append(b, `,"prev_hash":`...)
	str(e.PrevHash)
	b = append(b, `,"hash":`...)
	str(e.Hash)
	return append(b, "}\n"...)
}
