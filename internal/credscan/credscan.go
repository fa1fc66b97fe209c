// Package credscan lists the credentials a process can reach on its own —
// for a hooked agent such as Claude Code, whose tools run with the
// harness's environment and files rather than through the gateway: the
// names of credential-like environment variables that are set, and
// readable files that commonly hold credentials. It never reads a value
// or a file's content; a file is "readable" when access(2) says so for
// the scanning process, which runs as the agent (the hook is a child of
// the harness, with its environment).
//
// What it looks for is a fixed list (Files, the variable rules in
// credentialVar): credentials kept anywhere else — a token in a shell
// history, a key under another name, a cloud metadata endpoint, a socket —
// are not found, so an empty result is not proof of none.
package credscan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-dev/gatehouse"
)

// Input is what to scan.
type Input struct {
	Environ []string // the process's environment, KEY=VALUE
	Home    string   // its home directory; "" skips the files under it
	// Dirs are project directories (the session's working directory) to
	// look for .env files in.
	Dirs []string
}

// homeFiles are files under the home directory that commonly hold
// credentials, with what for. A name ending in "*" is a glob in its
// directory (public keys excluded).
var homeFiles = []struct{ path, kind string }{
	{".aws/credentials", "aws"},
	{".aws/config", "aws"},
	{".kube/config", "kubernetes"},
	{".ssh/id_*", "ssh"},
	{".ssh/*.pem", "ssh"},
	{".docker/config.json", "docker"},
	{".netrc", "netrc"},
	{".git-credentials", "git"},
	{".config/git/credentials", "git"},
	{".config/gh/hosts.yml", "github"},
	{".config/gcloud/application_default_credentials.json", "gcloud"},
	{".config/gcloud/credentials.db", "gcloud"},
	{".config/gcloud/access_tokens.db", "gcloud"},
	{".azure/accessTokens.json", "azure"},
	{".azure/msal_token_cache.json", "azure"},
	{".azure/msal_token_cache.bin", "azure"},
	{".npmrc", "npm"},
	{".pypirc", "pypi"},
	{".gem/credentials", "rubygems"},
	{".cargo/credentials", "cargo"},
	{".cargo/credentials.toml", "cargo"},
	{".terraform.d/credentials.tfrc.json", "terraform"},
	{".pgpass", "postgres"},
	{".my.cnf", "mysql"},
	{".vault-token", "vault"},
	{".claude/.credentials.json", "claude"},
	{".config/anthropic/credentials.json", "anthropic"},
}

// fileVars are variables that name credential files (or, for the
// directories, where such files are).
var fileVars = []struct{ name, kind, inDir string }{
	{"AWS_SHARED_CREDENTIALS_FILE", "aws", ""},
	{"AWS_CONFIG_FILE", "aws", ""},
	{"GOOGLE_APPLICATION_CREDENTIALS", "gcloud", ""},
	{"KUBECONFIG", "kubernetes", ""}, // a list
	{"DOCKER_CONFIG", "docker", "config.json"},
	{"CLOUDSDK_CONFIG", "gcloud", "application_default_credentials.json"},
	{"NPM_CONFIG_USERCONFIG", "npm", ""},
}

// notCredentials are variables the rules below would take for credentials
// that are settings.
var notCredentials = map[string]bool{
	"AWS_REGION": true, "AWS_DEFAULT_REGION": true, "AWS_DEFAULT_OUTPUT": true, "AWS_PAGER": true,
}

// exactVars are credential variables whose names the rules miss.
var exactVars = map[string]bool{
	"DATABASE_URL": true, "REDIS_URL": true, "MONGODB_URI": true, "PGPASSWORD": true, "MYSQL_PWD": true,
	"KUBECONFIG": true, "SSH_AUTH_SOCK": true, "GOOGLE_APPLICATION_CREDENTIALS": true,
	"DOCKER_AUTH_CONFIG": true, "NETRC": true,
}

// credentialVar reports whether a variable's name looks like it holds a
// credential: AWS_*, AZURE_*, *TOKEN*, *SECRET*, *PASSWORD*, *PASSWD*,
// *_KEY, *_KEYS, *APIKEY*, *API_KEY*, *PRIVATE_KEY*, *ACCESS_KEY*,
// *CREDENTIAL*, *_DSN, *_DATABASE_URL, *CONNECTION_STRING*, *_AUTH, and a
// few by name (DATABASE_URL, PGPASSWORD, KUBECONFIG, SSH_AUTH_SOCK, …).
func credentialVar(name string) bool {
	n := strings.ToUpper(name)
	if notCredentials[n] {
		return false
	}
	if exactVars[n] {
		return true
	}
	switch {
	case strings.HasPrefix(n, "AWS_"), strings.HasPrefix(n, "AZURE_"):
		return true
	case strings.HasSuffix(n, "_KEY"), strings.HasSuffix(n, "_KEYS"), strings.HasSuffix(n, "_DSN"),
		strings.HasSuffix(n, "_DATABASE_URL"), strings.HasSuffix(n, "_AUTH"):
		return true
	}
	for _, part := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY", "API_KEY", "PRIVATE_KEY", "ACCESS_KEY", "CREDENTIAL", "CONNECTION_STRING"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// Scan lists what in reaches: names and paths only.
func Scan(in Input) gatehouse.CredentialReach {
	r := gatehouse.CredentialReach{Env: []string{}, Files: []gatehouse.ReachableFile{}}
	env := map[string]string{}
	for _, kv := range in.Environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		env[k] = v
		if v != "" && credentialVar(k) && len(r.Env) < gatehouse.MaxReachEnv {
			r.Env = append(r.Env, k)
		}
	}
	slices.Sort(r.Env)
	r.Env = slices.Compact(r.Env)

	seen := map[string]bool{}
	add := func(path, kind string) {
		if path == "" || !filepath.IsAbs(path) || len(r.Files) >= gatehouse.MaxReachFiles {
			return
		}
		path = filepath.Clean(path)
		if seen[path] || !readableFile(path) {
			return
		}
		seen[path] = true
		r.Files = append(r.Files, gatehouse.ReachableFile{Path: path, Kind: kind})
	}
	if in.Home != "" && filepath.IsAbs(in.Home) {
		for _, f := range homeFiles {
			p := filepath.Join(in.Home, f.path)
			if !strings.ContainsRune(f.path, '*') {
				add(p, f.kind)
				continue
			}
			matches, _ := filepath.Glob(p)
			for _, m := range matches {
				if !strings.HasSuffix(m, ".pub") {
					add(m, f.kind)
				}
			}
		}
	}
	for _, fv := range fileVars {
		v := env[fv.name]
		if v == "" {
			continue
		}
		for _, p := range filepath.SplitList(v) {
			if fv.inDir != "" {
				p = filepath.Join(p, fv.inDir)
			}
			add(p, fv.kind)
		}
	}
	for _, dir := range in.Dirs {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(dir, ".env*"))
		slices.Sort(matches)
		for _, m := range matches {
			if dotenv(filepath.Base(m)) {
				add(m, "dotenv")
			}
		}
	}
	return r
}

// dotenv reports whether a file name is a .env file that may hold values
// (.env, .env.local, .env.production), not a template of one.
func dotenv(name string) bool {
	if name != ".env" && !strings.HasPrefix(name, ".env.") {
		return false
	}
	for _, t := range []string{".example", ".sample", ".template", ".dist"} {
		if strings.HasSuffix(name, t) {
			return false
		}
	}
	return true
}

// readableFile reports whether path is a regular file this process may
// read, without opening it (a FIFO could block an open).
func readableFile(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return unix.Access(path, unix.R_OK) == nil
}
