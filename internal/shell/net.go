package shell

import (
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// HTTP clients, ssh and file transfer, mail and other senders.

var downloaders = map[string]bool{"curl": true, "wget": true, "fetch": true, "http": true, "https": true, "xh": true, "xhs": true, "aria2c": true}

// isDownloader reports whether the program fetches from the network and
// can write what it fetched to its standard output.
func isDownloader(name string) bool { return downloaders[name] }

// hostOf returns the host of a URL-like argument, or the argument itself
// when it has none.
func hostOf(raw string) string {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return raw
	}
	return u.Hostname()
}

var curlFlags = flags{
	short: "AbcCdDeEFHKmoPQrtTuUwxXyYz",
	long: "data data-raw data-binary data-urlencode data-ascii json form form-string upload-file request header user " +
		"user-agent referer cookie cookie-jar output config max-time connect-timeout retry retry-delay retry-max-time " +
		"proxy proxy-user cacert capath cert key cert-type key-type pass range resolve connect-to interface write-out " +
		"dump-header limit-rate max-filesize output-dir url unix-socket abstract-unix-socket aws-sigv4 oauth2-bearer " +
		"ciphers dns-servers expect100-timeout keepalive-time local-port noproxy preproxy proxy-header quote socks4 " +
		"socks4a socks5 socks5-hostname stderr trace trace-ascii time-cond variable url-query mail-from mail-rcpt " +
		"mail-auth telnet-option ftp-port login-options sasl-authzid service-name hostpubmd5 hostpubsha256 " +
		"pinnedpubkey tls-max create-file-mode max-redirs",
}

func curlRule(c *call) {
	opts, ops := curlFlags.scan(c.args)
	urls := append(vals(pick(c.args, ops)), values(opts, "--url")...)
	hosts := make([]string, 0, len(urls))
	for _, u := range urls {
		hosts = append(hosts, hostOf(u))
	}
	c.target(hosts...)
	where := strings.Join(hosts, ", ")
	get := has(opts, "-G", "--get")
	sending := ""
	for _, o := range opts {
		switch o.name {
		case "-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--data-ascii", "--json":
			if !get {
				sending = o.name
			}
		case "-F", "--form", "--form-string", "-T", "--upload-file", "--mail-rcpt":
			sending = o.name
		case "-X", "--request":
			switch m := strings.ToUpper(o.value); m {
			case "GET", "HEAD", "OPTIONS":
			default:
				sending = o.name + " " + m
			}
		case "-K", "--config":
			c.is(gatehouse.ClassWrite, riskUnknown, "curl %s: reads options from %s, which analysis cannot see", o.name, o.value)
		}
	}
	c.out = stream{kind: streamDownload}
	if sending != "" {
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "curl %s: sends data to %s (an external side effect)", sending, where)
	}
	out, _ := value(opts, "-o", "--output")
	switch {
	case out != "" && !isSink(out):
		c.is(gatehouse.ClassWrite, riskWrite, "curl -o: downloads to %s", out)
		c.target(out)
	case has(opts, "-O", "--remote-name", "--remote-name-all"):
		c.is(gatehouse.ClassWrite, riskWrite, "curl -O: downloads into a file")
	case c.class == "":
		c.is(gatehouse.ClassRead, riskNetRead, "curl: fetches %s", where)
	}
}

var wgetFlags = flags{
	short: "OoaPitTweUQBlARDIX",
	long: "output-document output-file append-output directory-prefix input-file tries timeout wait execute " +
		"user-agent header user password post-data post-file method body-data body-file referer level accept reject " +
		"domains exclude-domains load-cookies save-cookies limit-rate quota http-user http-password ftp-user ftp-password",
}

func wgetRule(c *call) {
	opts, ops := wgetFlags.scan(c.args)
	var hosts []string
	for _, i := range ops {
		hosts = append(hosts, hostOf(c.args[i].val))
	}
	c.target(hosts...)
	where := strings.Join(hosts, ", ")
	c.out = stream{kind: streamDownload}
	for _, o := range opts {
		switch o.name {
		case "--post-data", "--post-file", "--body-data", "--body-file":
			c.is(gatehouse.ClassIrreversible, riskIrreversible, "wget %s: sends data to %s (an external side effect)", o.name, where)
		case "--method":
			if m := strings.ToUpper(o.value); m != "GET" && m != "HEAD" && m != "OPTIONS" {
				c.is(gatehouse.ClassIrreversible, riskIrreversible, "wget --method %s: sends a request with side effects to %s", m, where)
			}
		}
	}
	out, toFile := value(opts, "-O", "--output-document")
	switch {
	case has(opts, "--spider"):
		c.is(gatehouse.ClassRead, riskNetRead, "wget --spider: checks %s", where)
	case toFile && (out == "-" || isSink(out)):
		c.is(gatehouse.ClassRead, riskNetRead, "wget -O-: fetches %s", where)
	case toFile:
		c.is(gatehouse.ClassWrite, riskWrite, "wget -O: downloads to %s", out)
		c.target(out)
	default:
		c.is(gatehouse.ClassWrite, riskWrite, "wget: downloads %s into files", where)
	}
}

var httpMethods = map[string]bool{"GET": true, "HEAD": true, "OPTIONS": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// httpieRule handles HTTPie (http, https) and xh: [METHOD] URL [ITEM…].
func httpieRule(c *call) {
	f := flags{short: "aAopsv", long: "auth auth-type output session session-read-only verify cert cert-key ssl proxy timeout pretty style print max-redirects boundary"}
	opts, ops := f.scan(c.args)
	operands := vals(pick(c.args, ops))
	method := ""
	if len(operands) > 0 && httpMethods[operands[0]] {
		method, operands = operands[0], operands[1:]
	}
	if len(operands) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "%s: prints usage", c.name)
		return
	}
	host := hostOf(operands[0])
	c.target(host)
	c.out = stream{kind: streamDownload}
	data := has(opts, "-f", "--form", "--raw")
	for _, item := range operands[1:] {
		i := strings.IndexAny(item, ":=@")
		switch {
		case i < 0:
		case item[i] == ':' && (i+1 == len(item) || item[i+1] != '='):
		case item[i] == '=' && i+1 < len(item) && item[i+1] == '=':
		default:
			data = true
		}
	}
	if method == "" {
		method = "GET"
		if data {
			method = "POST"
		}
	}
	if has(opts, "--offline") || method == "GET" || method == "HEAD" || method == "OPTIONS" {
		c.is(gatehouse.ClassRead, riskNetRead, "%s: fetches %s", c.name, host)
		return
	}
	c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s %s: sends data to %s (an external side effect)", c.name, method, host)
}

var sshFlags = flags{short: "BbcDEeFIiJLlmOoPpQRSWw", stop: true}

func sshRule(c *call) {
	opts, ops := sshFlags.scan(c.args)
	for _, v := range values(opts, "-o") {
		key, cmd, ok := strings.Cut(v, "=")
		if !ok {
			key, cmd, _ = strings.Cut(v, " ")
		}
		if k := strings.ToLower(strings.TrimSpace(key)); k == "proxycommand" || k == "localcommand" {
			c.shell(cmd, "ssh -o "+key)
		}
	}
	if len(ops) == 0 {
		c.is(gatehouse.ClassRead, riskRead, "ssh: runs nothing")
		return
	}
	host := c.args[ops[0]].val
	if _, h, ok := strings.Cut(host, "@"); ok {
		host = h
	}
	host = hostOf(host)
	remote := c.args[ops[0]+1:]
	if len(remote) == 0 {
		if has(opts, "-N") {
			c.is(gatehouse.ClassWrite, riskWrite, "ssh -N: forwards ports to %s", host)
		} else {
			c.is(gatehouse.ClassWrite, riskUnknown, "ssh: opens a session on %s", host)
		}
		c.target(host)
		return
	}
	// The remote shell runs the arguments joined with spaces.
	src, _, dl := joinArgs(remote)
	if dl {
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "ssh: runs a download on %s", host)
		c.target(host)
	}
	c.shell(src, "ssh", host)
}

// remoteHost returns the host of an scp/rsync operand HOST:PATH,
// [USER@]HOST:PATH or scheme://HOST/PATH.
func remoteHost(p string) (string, bool) {
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, ".") || strings.HasPrefix(p, "~") {
		return "", false
	}
	if i := strings.Index(p, "://"); i > 0 {
		return hostOf(p), true
	}
	i := strings.IndexByte(p, ':')
	if i <= 0 {
		return "", false
	}
	if slash := strings.IndexByte(p, '/'); slash >= 0 && slash < i {
		return "", false
	}
	host := p[:i]
	if _, h, ok := strings.Cut(host, "@"); ok {
		host = h
	}
	return host, true
}

var scpFlags = flags{short: "cFiJloPSDX"}
var rsyncFlags = flags{
	short: "efTBM",
	long: "rsh exclude include filter exclude-from include-from files-from rsync-path temp-dir backup-dir suffix " +
		"chmod chown log-file password-file port timeout bwlimit partial-dir compare-dest copy-dest link-dest " +
		"max-size min-size max-delete usermap groupmap out-format info debug",
}

// transfer handles scp, rsync and sftp-like copies: SRC… DST.
func transfer(f flags) rule {
	return by(func(c *call) {
		opts, ops := f.scan(c.args)
		operands := vals(pick(c.args, ops))
		if has(opts, "-n", "--dry-run", "--list-only") || len(operands) < 2 {
			c.is(gatehouse.ClassRead, riskRead, "%s: lists files", c.name)
			return
		}
		dst := operands[len(operands)-1]
		if h, ok := remoteHost(dst); ok {
			c.is(gatehouse.ClassIrreversible, 90, "%s: sends files to %s", c.name, h)
			c.target(h, dst)
		} else {
			for _, s := range operands[:len(operands)-1] {
				if h, ok := remoteHost(s); ok {
					c.target(h)
				}
			}
			c.is(gatehouse.ClassWrite, riskWrite, "%s: copies files to %s", c.name, dst)
			c.target(dst)
		}
		for _, o := range opts {
			if strings.HasPrefix(o.name, "--delete") || o.name == "--remove-source-files" {
				c.is(gatehouse.ClassDestructive, riskHigh, "%s %s: deletes files", c.name, o.name)
				if w := catastrophic(dst); w != "" && !strings.HasSuffix(w, "(.)") {
					c.is(gatehouse.ClassIrreversible, riskMax, "%s %s: deletes files in %s", c.name, o.name, w)
				}
				break
			}
		}
		if e, ok := value(opts, "-e", "--rsh"); ok && c.name == "rsync" {
			c.shell(e, "rsync -e")
		}
	})
}

// mailRule handles mail, mailx, sendmail, mutt and other mail senders.
func mailRule(c *call) {
	f := flags{short: "sacbrfFAeSiuCBoN", long: "subject"}
	opts, ops := f.scan(c.args)
	var rcpt []string
	for _, i := range ops {
		if strings.Contains(c.args[i].val, "@") || c.name == "sendmail" || c.name == "msmtp" || c.name == "ssmtp" || c.name == "swaks" {
			rcpt = append(rcpt, c.args[i].val)
		}
	}
	for _, o := range opts {
		if (o.name == "-c" || o.name == "-b" || o.name == "--to" || o.name == "-t") && o.value != "" {
			rcpt = append(rcpt, o.value)
		}
	}
	if len(rcpt) == 0 && !has(opts, "-t") && c.name != "sendmail" && c.name != "swaks" {
		c.is(gatehouse.ClassRead, riskRead, "%s: reads mail", c.name)
		return
	}
	c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: sends email", c.name)
	c.target(rcpt...)
}

// netcat handles nc, ncat and netcat.
func netcat(c *call) {
	f := flags{short: "eiIOpqswxXTPc", long: "exec sh-exec proxy proxy-type wait source"}
	opts, ops := f.scan(c.args)
	if len(ops) > 0 {
		c.target(c.args[ops[0]].val)
	}
	if e, ok := value(opts, "-e", "--exec", "-c", "--sh-exec"); ok {
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s -e: connects a program to the network (%s)", c.name, e)
	}
	switch {
	case has(opts, "-z"):
		c.is(gatehouse.ClassRead, riskNetRead, "%s -z: checks whether ports are open", c.name)
	case has(opts, "-l", "--listen"):
		c.is(gatehouse.ClassWrite, riskUnknown, "%s -l: listens for connections", c.name)
	case c.x.in.kind != streamNone:
		c.is(gatehouse.ClassIrreversible, riskIrreversible, "%s: sends data over the network", c.name)
	default:
		c.is(gatehouse.ClassWrite, 45, "%s: opens a network connection that can send data", c.name)
	}
	c.out = stream{kind: streamDownload}
}
