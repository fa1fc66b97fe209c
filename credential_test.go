package gatehouse_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

func TestGrantsFor(t *testing.T) {
	grants := []gatehouse.Grant{
		{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN", Agents: []string{"ci-bot", "dev"}, Systems: []string{"github"}},
		{Secret: "NPM", Env: "NPM_TOKEN", Agents: []string{"ci-bot"}, Systems: []string{"github", "npm"}},
		{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN", Agents: []string{"ci-bot"}, Systems: []string{"github"}}, // a duplicate
	}
	for _, tc := range []struct {
		agent, system string
		want          []gatehouse.CredentialRef
	}{
		{"ci-bot", "github", []gatehouse.CredentialRef{{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN"}, {Secret: "NPM", Env: "NPM_TOKEN"}}},
		{"ci-bot", "npm", []gatehouse.CredentialRef{{Secret: "NPM", Env: "NPM_TOKEN"}}},
		{"dev", "github", []gatehouse.CredentialRef{{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN"}}},
		{"dev", "npm", nil},
		{"other", "github", nil},
		{"ci-bot", "", nil}, // no system, no credentials
		{"ci-bot", "GitHub", nil},
	} {
		if got := gatehouse.GrantsFor(grants, tc.agent, tc.system); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("GrantsFor(%s, %q) = %v, want %v", tc.agent, tc.system, got, tc.want)
		}
	}
}

func TestCredentialUses(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) *time.Time { x := t0.Add(time.Duration(m) * time.Minute); return &x }
	gh := []gatehouse.CredentialRef{{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN"}}
	actions := []*gatehouse.Action{
		{ID: "a1", Agent: "ci", System: "github", Credentials: gh, StartedAt: at(1)},
		{ID: "a2", Agent: "ci", System: "github", Credentials: gh, StartedAt: at(5)},
		{ID: "a3", Agent: "ci", System: "github", Credentials: gh},                                   // denied: never started
		{ID: "a4", Agent: "ci", System: "github", Credentials: gh, StartedAt: at(9), External: true}, // cannot have received it
		{ID: "a5", Agent: "dev", System: "github", Credentials: gh, StartedAt: at(3)},
		{ID: "a6", Agent: "ci", System: "github", StartedAt: at(7)}, // no credentials
	}
	want := []gatehouse.CredentialUse{
		{Agent: "ci", System: "github", Secret: "GITHUB_TOKEN", Env: "GH_TOKEN", Actions: 2, First: *at(1), Last: *at(5), LastAction: "a2"},
		{Agent: "dev", System: "github", Secret: "GITHUB_TOKEN", Env: "GH_TOKEN", Actions: 1, First: *at(3), Last: *at(3), LastAction: "a5"},
	}
	if got := gatehouse.CredentialUses(actions); !reflect.DeepEqual(got, want) {
		t.Errorf("CredentialUses = %+v\nwant %+v", got, want)
	}
	if got := gatehouse.CredentialUses(nil); len(got) != 0 {
		t.Errorf("CredentialUses(nil) = %v", got)
	}
}

func TestValidateSecretName(t *testing.T) {
	for name, ok := range map[string]bool{
		"GITHUB_TOKEN": true, "aws.prod": true, "a": true, "db-password_2": true,
		"": false, "_X": false, "1X": false, "a b": false, "a=b": false, "a/b": false,
		strings.Repeat("x", 64): true, strings.Repeat("x", 65): false,
	} {
		if err := gatehouse.ValidateSecretName(name); (err == nil) != ok {
			t.Errorf("ValidateSecretName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
