package notify_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

type slackText struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Verbatim bool   `json:"verbatim"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text"`
	Fields   []slackText `json:"fields"`
	Elements []slackText `json:"elements"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// postSlack sends m through a Slack notifier and returns what Slack got.
func postSlack(t *testing.T, m notify.Message) (slackMessage, request) {
	t.Helper()
	srv := newServer(t, response{status: 200, body: "ok"})
	opts, _ := testOptions(t)
	sl := notify.NewSlack(srv.URL+"/services/T0/B0/XXXX", opts)
	sl.Notify(m)
	mustClose(t, sl)
	reqs := srv.got()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	var msg slackMessage
	dec := json.NewDecoder(strings.NewReader(string(reqs[0].Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		t.Fatalf("payload %s: %v", reqs[0].Body, err)
	}
	return msg, reqs[0]
}

// texts returns every text in msg, with where it is.
func texts(msg slackMessage) map[string]string {
	out := map[string]string{"text": msg.Text}
	for i, b := range msg.Blocks {
		if b.Text != nil {
			out[fmt.Sprintf("block %d (%s)", i, b.Type)] = b.Text.Text
		}
		for j, f := range append(b.Fields, b.Elements...) {
			out[fmt.Sprintf("block %d (%s) element %d", i, b.Type, j)] = f.Text
		}
	}
	return out
}

// entities removes the entities Slack's escaping produces.
var entities = strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "")

func units(s string) int { return len(utf16.Encode([]rune(s))) }

func TestSlackPayload(t *testing.T) {
	m := pending()
	msg, req := postSlack(t, m)
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if req.Header.Get("X-Gatehouse-Signature") != "" {
		t.Error("a Slack post carries a webhook signature")
	}
	if msg.Text != m.Text {
		t.Errorf("fallback text %q, want %q", msg.Text, m.Text)
	}

	var types []string
	for _, b := range msg.Blocks {
		types = append(types, b.Type)
	}
	if got, want := strings.Join(types, " "), "header section section section section context"; got != want {
		t.Fatalf("blocks %q, want %q", got, want)
	}
	b := msg.Blocks
	if b[0].Text.Type != "plain_text" || b[0].Text.Text != "Approval pending" {
		t.Errorf("header %+v", b[0].Text)
	}
	if b[1].Text.Text != m.Text {
		t.Errorf("summary %q", b[1].Text.Text)
	}
	if b[2].Text.Type != "mrkdwn" || b[2].Text.Text != "```\nrm -rf build\n```" {
		t.Errorf("command block %+v", b[2].Text)
	}
	fields := map[string]string{}
	for _, f := range b[3].Fields {
		name, value, _ := strings.Cut(f.Text, "\n")
		fields[name] = value
		if f.Type != "mrkdwn" || !f.Verbatim {
			t.Errorf("field %+v", f)
		}
	}
	for name, want := range map[string]string{
		"*Agent*":     "claude",
		"*Session*":   "sess-42",
		"*Intent*":    "clean the build directory",
		"*Class*":     "destructive",
		"*Risk*":      "70",
		"*Targets*":   "build",
		"*Decision*":  "review (rule destructive-needs-review): destructive commands need a human",
		"*Reviewers*": "alice, group:oncall",
		"*Action*":    m.Action.ID,
	} {
		if fields[name] != want {
			t.Errorf("field %s = %q, want %q", name, fields[name], want)
		}
	}
	if len(b[3].Fields) > 10 {
		t.Errorf("%d fields; Slack allows 10", len(b[3].Fields))
	}
	if want := "*Reasons*\n• rm -r deletes a directory tree\n• -f suppresses prompts"; b[4].Text.Text != want {
		t.Errorf("reasons %q, want %q", b[4].Text.Text, want)
	}
	var ctx []string
	for _, e := range b[5].Elements {
		ctx = append(ctx, e.Text)
	}
	if got, want := strings.Join(ctx, " | "), "Approve: `gatehouse approve "+m.Action.ID+" [--reason …]` | Deny: `gatehouse deny "+m.Action.ID+" [--reason …]` | approval.pending"; got != want {
		t.Errorf("context %q, want %q", got, want)
	}
}

func TestSlackWithoutAction(t *testing.T) {
	msg, _ := postSlack(t, notify.Message{Kind: notify.KindHalt, Text: "Tripwire \"canary\" fired; all actions are halted."})
	var types []string
	for _, b := range msg.Blocks {
		types = append(types, b.Type)
	}
	if got := strings.Join(types, " "); got != "header section context" {
		t.Errorf("blocks %q", got)
	}
	if msg.Blocks[0].Text.Text != "Gatehouse halted" {
		t.Errorf("header %q", msg.Blocks[0].Text.Text)
	}
}

func TestSlackEscapesUntrustedText(t *testing.T) {
	m := pending()
	m.Text = "" // derived from the command, so it must be escaped as well
	m.Action.Command = "echo \"<!channel>\" && cat a>b\n```\n*approved by admin* <https://evil.example|docs>\u202e\x1b[2J"
	m.Action.Intent = "<@U123> see <https://evil.example|the ticket> & approve"
	m.Action.Session = "s<1>"
	m.Action.Analysis.Reasons = []string{"writes to <file>"}
	msg, _ := postSlack(t, m)

	for where, s := range texts(msg) {
		if strings.ContainsAny(s, "<>") {
			t.Errorf("%s has an unescaped < or >: %q", where, s)
		}
		if strings.Contains(entities.Replace(s), "&") {
			t.Errorf("%s has an unescaped &: %q", where, s)
		}
		if strings.ContainsAny(s, "\u202e\x1b") {
			t.Errorf("%s has an invisible control character: %q", where, s)
		}
	}
	code := msg.Blocks[2].Text.Text
	want := "```\necho \"&lt;!channel&gt;\" &amp;&amp; cat a&gt;b\n``\u200b`\n*approved by admin* &lt;https://evil.example|docs&gt;\\u202e\\u001b[2J\n```"
	if code != want {
		t.Errorf("command block\n%q, want\n%q", code, want)
	}
	if n := strings.Count(code, "```"); n != 2 {
		t.Errorf("command block has %d ``` fences, want 2 (its own)", n)
	}
	var intent string
	for _, f := range msg.Blocks[3].Fields {
		if v, ok := strings.CutPrefix(f.Text, "*Intent*\n"); ok {
			intent = v
		}
	}
	if want := "&lt;@U123&gt; see &lt;https://evil.example|the ticket&gt; &amp; approve"; intent != want {
		t.Errorf("intent %q, want %q", intent, want)
	}
}

func TestSlackTruncatesLongText(t *testing.T) {
	for name, cmd := range map[string]string{
		"ascii":     strings.Repeat("x", 10000),
		"entities":  strings.Repeat("&<>", 3000),
		"astral":    strings.Repeat("😀", 5000), // two UTF-16 units each
		"backticks": strings.Repeat("`", 9000),
	} {
		t.Run(name, func(t *testing.T) {
			m := pending()
			m.Action.Command = cmd
			m.Action.Intent = cmd
			m.Text = cmd
			msg, _ := postSlack(t, m)
			code := msg.Blocks[2].Text.Text
			if n := units(code); n > 3000 {
				t.Errorf("command block is %d characters; Slack allows 3000", n)
			}
			if !strings.HasPrefix(code, "```\n") || !strings.HasSuffix(code, "… (truncated)\n```") {
				t.Errorf("command block starts %q, ends %q", code[:10], code[len(code)-30:])
			}
			if n := units(msg.Blocks[1].Text.Text); n > 3000 {
				t.Errorf("summary is %d characters", n)
			}
			for _, f := range msg.Blocks[3].Fields {
				if n := units(f.Text); n > 2000 {
					t.Errorf("field is %d characters; Slack allows 2000", n)
				}
			}
			// A cut never splits an entity.
			body := strings.TrimSuffix(strings.TrimPrefix(code, "```\n"), "… (truncated)\n```")
			if name == "entities" && entities.Replace(body) != "" {
				t.Errorf("split entity at the cut: …%q", body[len(body)-12:])
			}
		})
	}
}
