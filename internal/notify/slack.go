package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
)

// Slack posts each message to a Slack incoming webhook, formatted with
// Block Kit. Create it with NewSlack; it is safe for concurrent use.
type Slack struct {
	s *sender
}

// NewSlack returns a notifier that posts to the Slack incoming-webhook
// url. The URL is a credential: only its scheme and host are ever logged.
// It starts the notifier's background goroutine: call Close when done
// with it.
func NewSlack(url string, opts Options) *Slack {
	return &Slack{s: newSender("slack", url, opts, nil)}
}

// Notify implements Notifier.
func (sl *Slack) Notify(m Message) {
	m = sl.s.prepare(m)
	body, err := slackPayload(m)
	if err != nil {
		sl.s.dropEncoding(m, err)
		return
	}
	sl.s.enqueue(newDelivery(m, body))
}

// Close implements Notifier.
func (sl *Slack) Close(ctx context.Context) error { return sl.s.close(ctx) }

// Slack's limits, in characters (counted here as UTF-16 code units, the
// stricter reading), with room left for markup and a truncation note.
// Slack refuses a whole message if one text is over its limit, so every
// text that a client can influence is cut to fit.
const (
	slackHeaderMax  = 150  // header plain_text
	slackSectionMax = 2900 // section text: 3000
	slackFieldMax   = 1900 // section field: 2000
	slackContextMax = 1900 // context element text
)

type slackText struct {
	Type     string `json:"type"` // "plain_text" or "mrkdwn"
	Text     string `json:"text"`
	Verbatim bool   `json:"verbatim,omitempty"` // mrkdwn: no automatic links or mentions
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"` // the fallback: notifications and old clients
	Blocks []slackBlock `json:"blocks"`
}

func mrkdwn(s string) slackText { return slackText{Type: "mrkdwn", Text: s, Verbatim: true} }

// slackPayload builds the incoming-webhook body for m: a header with the
// kind, the summary, the command in a code block, the facts a reviewer
// decides on as fields, the reasons, and how to approve or deny.
func slackPayload(m Message) ([]byte, error) {
	text := slackEscape(m.Text, slackSectionMax, false)
	msg := slackMessage{
		Text: text,
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: clip(m.Kind.title(), slackHeaderMax)}},
			{Type: "section", Text: ptr(mrkdwn(text))},
		},
	}
	var footer []slackText
	if a := m.Action; a != nil {
		code := "```\n" + slackEscape(command(a), slackSectionMax, true) + "\n```"
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: ptr(mrkdwn(code))})

		var fields []slackText
		field := func(name, value string) {
			if strings.TrimSpace(value) != "" {
				fields = append(fields, mrkdwn("*"+name+"*\n"+slackEscape(value, slackFieldMax-len(name)-3, false)))
			}
		}
		field("Agent", a.Agent)
		field("Session", a.Session)
		field("Intent", a.Intent)
		var reasons []string
		if an := a.Analysis; an != nil {
			field("Class", string(an.Class))
			field("Risk", strconv.Itoa(an.Risk))
			field("Targets", strings.Join(an.Targets, ", "))
			reasons = append(reasons, an.Reasons...)
			if an.ParseError != "" {
				reasons = append(reasons, "the command could not be parsed: "+an.ParseError)
			}
		}
		if d := a.Decision; d.Effect != "" {
			v := string(d.Effect)
			if d.Rule != "" {
				v += " (rule " + d.Rule + ")"
			}
			if d.Reason != "" {
				v += ": " + d.Reason
			}
			field("Decision", v)
		}
		field("Reviewers", strings.Join(m.Reviewers, ", "))
		field("Action", a.ID)
		if len(fields) > 0 {
			msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Fields: fields})
		}
		if len(reasons) > 0 {
			text := "*Reasons*\n" + slackEscape("• "+strings.Join(reasons, "\n• "), slackSectionMax, false)
			msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: ptr(mrkdwn(text))})
		}
	} else if len(m.Reviewers) > 0 {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Fields: []slackText{
			mrkdwn("*Reviewers*\n" + slackEscape(strings.Join(m.Reviewers, ", "), slackFieldMax, false)),
		}})
	}
	if m.Approve != "" {
		footer = append(footer, mrkdwn("Approve: `"+slackEscape(m.Approve, slackContextMax, true)+"`"))
	}
	if m.Deny != "" {
		footer = append(footer, mrkdwn("Deny: `"+slackEscape(m.Deny, slackContextMax, true)+"`"))
	}
	footer = append(footer, mrkdwn(slackEscape(string(m.Kind), 100, false)))
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: footer})

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func ptr[T any](v T) *T { return &v }

// slackEscape makes untrusted text safe to show in Slack mrkdwn and cuts
// it to at most max characters:
//
//   - &, < and > become &amp;, &lt; and &gt;, as Slack requires: unescaped,
//     "<!channel>" would notify a whole channel and "<https://x|y>" would
//     be a link whose text lies about where it goes;
//   - control characters other than newline and tab, invisible format
//     characters (zero-width spaces, bidirectional overrides, which can
//     make a command read differently from what runs) and line separators
//     are shown as \uXXXX;
//   - in code (a ``` block), a zero-width space is put into every run of
//     three backticks, which would otherwise end the block and let the
//     rest of the command be rendered as formatting. A literal zero-width
//     space in the input is shown as \u200b, so an inserted one is never
//     confused with one that is really there.
//
// A cut is marked with "… (truncated)".
func slackEscape(s string, max int, code bool) string {
	const note = "… (truncated)"
	if out, ok := slackRender(s, max, code); ok {
		return out
	}
	out, _ := slackRender(s, max-len(note), code)
	return out + note
}

// slackRender escapes s, stopping before it would exceed max UTF-16 code
// units; ok is false if it stopped.
func slackRender(s string, max int, code bool) (string, bool) {
	var b strings.Builder
	n, ticks := 0, 0
	for _, r := range s {
		var piece string
		switch {
		case r == '&':
			piece = "&amp;"
		case r == '<':
			piece = "&lt;"
		case r == '>':
			piece = "&gt;"
		case r == '\n' || r == '\t':
			piece = string(r)
		case unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			if r > 0xFFFF {
				piece = fmt.Sprintf(`\U%08x`, r)
			} else {
				piece = fmt.Sprintf(`\u%04x`, r)
			}
		case r == '`' && code:
			piece = "`"
			if ticks == 2 {
				piece, ticks = "\u200b`", 0
			}
		default:
			piece = string(r)
		}
		if r == '`' && code {
			ticks++
		} else {
			ticks = 0
		}
		units := 0
		for _, pr := range piece {
			units += utf16.RuneLen(pr)
		}
		if n+units > max {
			return b.String(), false
		}
		n += units
		b.WriteString(piece)
	}
	return b.String(), true
}
