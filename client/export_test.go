package client

import "time"

// SetAnswerTimeout sets how long a run with stdin waits for its answer to
// begin, and returns a function that restores it.
func SetAnswerTimeout(d time.Duration) func() {
	old := answerTimeout
	answerTimeout = d
	return func() { answerTimeout = old }
}
