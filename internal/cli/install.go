package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

var installCmd = &command{
	name:    "install",
	summary: "put Gatehouse under an agent (Claude Code)",
	help: `Usage: gatehouse install claude-code [--project DIR | --user] [--command CMD]
       gatehouse uninstall claude-code [--project DIR | --user] [--command CMD]

install adds Gatehouse's hooks to Claude Code's settings.json — the
project's (DIR/.claude/settings.json, default: the current directory) or,
with --user, ~/.claude/settings.json — for PreToolUse, PostToolUse and
PostToolUseFailure (every tool), SessionStart, UserPromptSubmit, SessionEnd
and Stop. It merges with what is there, changes nothing if they are there
already, and keeps a copy of the file as it was (settings.json.gatehouse-backup)
the first time. uninstall removes exactly the hooks it added.

Claude Code then runs CMD (default "gatehouse hook claude") for each event;
give it GATEHOUSE_TOKEN (an agent's) and GATEHOUSE_URL in its environment.

Flags:
  --project DIR   the project whose .claude/settings.json to change (default .)
  --user          change ~/.claude/settings.json instead
  --command CMD   the hook command (default "gatehouse hook claude")
`,
	run: func(ctx context.Context, c *command, e *Env, args []string) int {
		return runInstall(ctx, c, e, args, true)
	},
}

var uninstallCmd = &command{
	name:    "uninstall",
	summary: "remove what gatehouse install added",
	help: `Usage: gatehouse uninstall claude-code [--project DIR | --user] [--command CMD]

Removes from Claude Code's settings.json exactly the hooks that gatehouse
install claude-code added (those whose command is CMD), and the entries
that leaves empty; everything else stays. See gatehouse help install.

Flags:
  --project DIR   the project whose .claude/settings.json to change (default .)
  --user          change ~/.claude/settings.json instead
  --command CMD   the hook command to remove (default "gatehouse hook claude")
`,
	run: func(ctx context.Context, c *command, e *Env, args []string) int {
		return runInstall(ctx, c, e, args, false)
	},
}

// claudeEvents are the hook events install registers; the tool events take
// a matcher.
var claudeEvents = []struct {
	name    string
	matcher bool
}{
	{"PreToolUse", true}, {"PostToolUse", true}, {"PostToolUseFailure", true},
	{"SessionStart", false}, {"UserPromptSubmit", false}, {"SessionEnd", false}, {"Stop", false},
}

func runInstall(ctx context.Context, c *command, e *Env, args []string, install bool) int {
	if len(args) == 0 || args[0] != "claude-code" {
		return usageError(c, e, "name the agent: claude-code")
	}
	fs := newFlags(c)
	project := fs.String("project", "", "")
	user := fs.Bool("user", false, "")
	cmdline := fs.String("command", "gatehouse hook claude", "")
	pos, code, ok := parse(c, e, fs, args[1:])
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if *user && *project != "" {
		return usageError(c, e, "--project and --user exclude each other")
	}
	var path string
	switch {
	case *user:
		home := e.Getenv("HOME")
		if home == "" {
			return usageError(c, e, "--user: HOME is not set")
		}
		path = filepath.Join(home, ".claude", "settings.json")
	default:
		dir := *project
		if dir == "" {
			wd, err := e.Getwd()
			if err != nil {
				return fail(e, err)
			}
			dir = wd
		}
		path = filepath.Join(dir, ".claude", "settings.json")
	}
	settings := map[string]any{}
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fail(e, err)
	default:
		if err := json.Unmarshal(old, &settings); err != nil {
			return fail(e, fmt.Errorf("%s is not valid JSON (%v): nothing changed", path, err))
		}
	}
	var changed int
	if install {
		changed = addHooks(settings, *cmdline)
	} else {
		changed = removeHooks(settings, *cmdline)
	}
	if changed == 0 {
		fmt.Fprintf(e.Stdout, "%s: nothing to change\n", path)
		return exitOK
	}
	if old != nil {
		backup := path + ".gatehouse-backup"
		if _, err := os.Stat(backup); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(backup, old, 0o600); err != nil {
				return fail(e, err)
			}
		}
	}
	b, err := json.MarshalIndent(settings, "", "  ")
	if err != nil {
		return fail(e, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fail(e, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fail(e, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(e, err)
	}
	verb := "added"
	if !install {
		verb = "removed"
	}
	fmt.Fprintf(e.Stdout, "%s: %d Gatehouse hooks %s\n", path, changed, verb)
	return exitOK
}

func hookEntry(cmdline string) map[string]any {
	return map[string]any{"type": "command", "command": cmdline, "timeout": 600}
}

// addHooks adds the hook for each event that lacks it and returns how many
// it added.
func addHooks(settings map[string]any, cmdline string) int {
	hooks, _ := settings["hooks"].(map[string]any)
	if hooks == nil {
		hooks = map[string]any{}
	}
	n := 0
	for _, ev := range claudeEvents {
		groups, _ := hooks[ev.name].([]any)
		if hasHook(groups, cmdline) {
			continue
		}
		g := map[string]any{"hooks": []any{hookEntry(cmdline)}}
		if ev.matcher {
			g["matcher"] = "*"
		}
		hooks[ev.name] = append(groups, g)
		n++
	}
	settings["hooks"] = hooks
	return n
}

func hasHook(groups []any, cmdline string) bool {
	for _, g := range groups {
		gm, _ := g.(map[string]any)
		hs, _ := gm["hooks"].([]any)
		for _, h := range hs {
			if hm, _ := h.(map[string]any); hm["command"] == cmdline {
				return true
			}
		}
	}
	return false
}

// removeHooks removes the hooks whose command is cmdline, and the groups
// and events that leaves empty; it returns how many it removed.
func removeHooks(settings map[string]any, cmdline string) int {
	hooks, _ := settings["hooks"].(map[string]any)
	n := 0
	for name, v := range hooks {
		groups, _ := v.([]any)
		var keep []any
		for _, g := range groups {
			gm, _ := g.(map[string]any)
			hs, _ := gm["hooks"].([]any)
			var rest []any
			for _, h := range hs {
				if hm, _ := h.(map[string]any); hm["command"] == cmdline {
					n++
					continue
				}
				rest = append(rest, h)
			}
			if len(rest) == 0 && len(hs) > 0 {
				continue
			}
			if gm != nil {
				gm["hooks"] = rest
			}
			keep = append(keep, g)
		}
		if len(keep) == 0 {
			delete(hooks, name)
		} else {
			hooks[name] = keep
		}
	}
	if hooks != nil && len(hooks) == 0 {
		delete(settings, "hooks")
	}
	return n
}
