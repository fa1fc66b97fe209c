package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/config"
)

func TestCredentials(t *testing.T) {
	src := `credentials:
  - secret: GITHUB_TOKEN
    env: GH_TOKEN
    agents: [ci-bot, dev]
    systems: [github]
  - secret: NPM_TOKEN
    agents: [ci-bot]
    systems: [npm, github]
`
	f, err := config.Parse([]byte(src), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []gatehouse.Grant{
		{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN", Agents: []string{"ci-bot", "dev"}, Systems: []string{"github"}},
		{Secret: "NPM_TOKEN", Env: "NPM_TOKEN", Agents: []string{"ci-bot"}, Systems: []string{"npm", "github"}},
	}
	if got := f.Credentials.Grants(); !reflect.DeepEqual(got, want) {
		t.Errorf("Grants = %+v\nwant %+v", got, want)
	}
}

func TestCredentialsErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"no secret", "credentials:\n  - agents: [a]\n    systems: [s]\n", "c.yaml:2:5: credentials[0].secret: required"},
		{"bad secret name", "credentials:\n  - secret: 'a b'\n    agents: [a]\n    systems: [s]\n", "c.yaml:2:13: credentials[0].secret: invalid secret name"},
		{"name is no variable", "credentials:\n  - secret: aws.prod\n    agents: [a]\n    systems: [s]\n", "credentials[0].env: required, since \"aws.prod\" is not an environment variable name"},
		{"bad env", "credentials:\n  - secret: T\n    env: 'A-B'\n    agents: [a]\n    systems: [s]\n", "c.yaml:3:10: credentials[0].env: \"A-B\" is not an environment variable name"},
		{"reserved env", "credentials:\n  - secret: T\n    env: GATEHOUSE_TOKEN\n    agents: [a]\n    systems: [s]\n", "credentials[0].env: GATEHOUSE_TOKEN is set by the gateway itself"},
		{"reserved PATH", "credentials:\n  - secret: PATH\n    agents: [a]\n    systems: [s]\n", "credentials[0].env: PATH is set by the gateway itself"},
		{"no agents", "credentials:\n  - secret: T\n    systems: [s]\n", "credentials[0].agents: name at least one agent"},
		{"bad agent", "credentials:\n  - secret: T\n    agents: ['no way']\n    systems: [s]\n", "c.yaml:3:13: credentials[0].agents: invalid agent name"},
		{"no systems", "credentials:\n  - secret: T\n    agents: [a]\n    systems: []\n", "c.yaml:4:14: credentials[0].systems: name at least one system"},
		{"blank system", "credentials:\n  - secret: T\n    agents: [a]\n    systems: [' x']\n", "credentials[0].systems: \" x\" is not a system name"},
		{"two secrets, one variable", "credentials:\n  - {secret: A, env: TOKEN, agents: [a, b], systems: [s]}\n  - {secret: B, env: TOKEN, agents: [b], systems: [s, t]}\n",
			"c.yaml:3:5: credentials[1]: puts B into TOKEN, which credentials[0] fills with A for the same agent and system"},
		{"unknown field", "credentials:\n  - {secret: A, agents: [a], systems: [s], value: x}\n", "field value not found"},
		{"not a list", "credentials: {secret: A}\n", "c.yaml:1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.src), "c.yaml")
			if err == nil || gatehouse.ErrorCode(err) != gatehouse.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
	// Grants of one variable that never meet are fine, and so is one
	// secret granted twice.
	ok := "credentials:\n  - {secret: A, env: TOKEN, agents: [a], systems: [s]}\n  - {secret: B, env: TOKEN, agents: [b], systems: [s]}\n  - {secret: A, env: TOKEN, agents: [a], systems: [s, t]}\n"
	if _, err := config.Parse([]byte(ok), "c.yaml"); err != nil {
		t.Errorf("Parse(disjoint grants) = %v", err)
	}
}
