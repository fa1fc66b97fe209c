// Package notify tells people that Gatehouse needs them: that an action
// waits for approval (KindApprovalPending), that nobody approved it in time
// and more reviewers are asked (KindApprovalEscalated), that it was
// decided (KindApprovalResolved), and that a tripwire or an operator
// halted the gateway (KindHalt).
//
// Two notifiers post to HTTP endpoints: Webhook, a generic signed JSON
// webhook, and Slack, a Slack incoming webhook. Multi fans out to several;
// Discard drops everything.
//
// # Delivery semantics
//
// Notifications are a convenience, not the record: the journal is the
// source of truth, and a pending approval stays pending (and visible to
// the CLI and the API) whether or not anybody was told about it. So
// delivery is best effort, and it never holds up the gateway:
//
//   - Notify never blocks. It encodes the message at once (so the caller
//     may go on changing the Action it points to) and puts it on a
//     bounded queue (Options.QueueSize, 1024 by default). When the queue
//     is full the new message is dropped and logged at error level with
//     its kind and action ID; messages already queued keep their place.
//   - Each notifier has one background goroutine that delivers its
//     messages one at a time, in the order they were queued: a reviewer
//     never sees an approval resolved before it was pending. The price is
//     head-of-line blocking: while a message is retried, the later
//     messages of that notifier wait (other notifiers, and the gateway,
//     do not). A message holds the line for at most MaxAttempts attempts
//     of at most 10s each, plus the waits between them.
//   - A message is retried after a network error, a timeout, 408, 429 and
//     any 5xx, up to Options.MaxAttempts (6) attempts in all. The wait
//     before a retry starts at Options.Backoff (500ms) and doubles up to
//     30s, each wait jittered into [half of it, all of it]; after a 429 or
//     503 with Retry-After (seconds or an HTTP date), that is the wait
//     instead, cut to at most a minute. Any other status (other 4xx, and
//     3xx: redirects are not followed by the default client) is a refusal
//     and is not retried. A message that is refused or runs out of
//     attempts is logged at error level and dropped.
//   - Delivery is at least once: a receiver that got a message but whose
//     answer was lost gets it again. Every attempt of one message carries
//     the same X-Gatehouse-Delivery ID, and different messages different
//     ones, so a receiver de-duplicates on it.
//   - Close stops accepting messages (later ones are dropped and logged)
//     and waits for the queue to drain. If its context ends first, the
//     attempt in flight is cancelled, what is still queued is abandoned
//     and logged, and Close returns the context's error.
//
// Logs never contain a webhook secret, nor more of an endpoint URL than
// its scheme and host: the path and query of a webhook URL are often its
// credential (a Slack incoming-webhook URL is nothing else).
//
// # The webhook
//
// A Webhook POSTs the Message as JSON with these headers:
//
//	Content-Type: application/json
//	User-Agent: gatehouse
//	X-Gatehouse-Event: approval.pending                     the kind
//	X-Gatehouse-Delivery: 5KQ2…                             the same on every attempt
//	X-Gatehouse-Timestamp: 1748779201                       Unix seconds of this attempt
//	X-Gatehouse-Signature: sha256=9f86d081884c7d65…         omitted if there is no secret
//
// The signature is the hex HMAC-SHA256, keyed with the shared secret, of
// the timestamp in decimal, a ".", and the raw body: Sign computes it and
// VerifySignature checks it in constant time. Each attempt is signed anew
// with its own timestamp, so a receiver can reject deliveries whose
// timestamp is far from its clock (a replayed one), and a late retry is
// still fresh. A receiver in Go:
//
//	func receive(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//		if err != nil {
//			http.Error(w, "cannot read body", http.StatusBadRequest)
//			return
//		}
//		ts, err := strconv.ParseInt(r.Header.Get("X-Gatehouse-Timestamp"), 10, 64)
//		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
//			http.Error(w, "stale or missing timestamp", http.StatusUnauthorized)
//			return
//		}
//		if !notify.VerifySignature(secret, r.Header.Get("X-Gatehouse-Signature"), ts, body) {
//			http.Error(w, "bad signature", http.StatusUnauthorized)
//			return
//		}
//		if alreadySeen(r.Header.Get("X-Gatehouse-Delivery")) {
//			return // a retry of a message already handled: 200, so it stops
//		}
//		var m notify.Message
//		if err := json.Unmarshal(body, &m); err != nil {
//			http.Error(w, "bad body", http.StatusBadRequest)
//			return
//		}
//		// … act on m.Kind, m.Action.ID, m.Approve …
//		w.WriteHeader(http.StatusNoContent)
//	}
//
// In another language: compute HMAC-SHA256(secret, timestamp + "." + body)
// over the body's bytes exactly as received (before any JSON parsing),
// hex-encode it in lower case, prefix "sha256=" and compare with the
// header in constant time. Answer 2xx once the message is handled; answer
// 401 or another 4xx to refuse it for good (it is not retried), 5xx or 429
// to have it retried.
//
// # Slack
//
// Slack posts a Block Kit message: a header naming the kind, the summary,
// the command in a code block, the agent, session, intent, class, risk,
// targets, decision and reviewers as fields, the analysis's reasons, and
// a context line with the approve and deny commands. Everything a client
// can influence (the command, intent, session, reasons) is escaped as
// Slack requires (&, <, >), so that it cannot mention @channel or show a
// link that lies about its target; invisible and bidirectional control
// characters are shown as \uXXXX; runs of three backticks in the command
// get a zero-width space so that they cannot close its code block; and
// every text is cut to fit Slack's limits (the command to about 2900
// characters), since Slack refuses a whole message for one text that is
// too long. The exact command is always in the journal (gatehouse show).
package notify
