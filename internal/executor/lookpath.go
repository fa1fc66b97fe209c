package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func notFound(name string) error {
	return fmt.Errorf("%w: %s", ErrNotFound, name)
}

func notExecutable(name string, why error) error {
	return fmt.Errorf("%w: %s: %w", ErrNotExecutable, name, why)
}

// envPath returns the value of the last PATH in env: the one the process
// would see, as exec.Cmd keeps the last of duplicate keys.
func envPath(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return ""
}

// lookPath resolves name as exec.LookPath would with PATH set to path and
// the working directory dir, and returns an absolute path. Unlike
// exec.LookPath it skips empty and relative PATH entries (LookPath fails
// on them with exec.ErrDot), and like a shell it reports a command that
// exists only without execute permission as not executable rather than
// not found.
func lookPath(name, path, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
			abs, err := filepath.Abs(p)
			if err != nil {
				return "", notExecutable(name, err)
			}
			p = abs
		}
		switch err := checkExecutable(p); {
		case err == nil:
			return p, nil
		case errors.Is(err, fs.ErrNotExist):
			return "", notFound(name)
		default:
			return "", notExecutable(name, err)
		}
	}
	if name == "" {
		return "", notFound(name)
	}
	var denied error
	for _, d := range filepath.SplitList(path) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		// Like a shell, go on searching past a file that may not be
		// executed, but report it if nothing better is found. A
		// directory of that name does not count: it is not a command.
		if denied == nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.ENOTDIR) {
			denied = err
		}
	}
	if denied != nil {
		return "", notExecutable(name, denied)
	}
	return "", notFound(name)
}

// checkExecutable returns nil if p is a regular file that the daemon may
// execute, fs.ErrNotExist if there is nothing at p, and otherwise the
// reason it cannot be executed.
func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if st.IsDir() {
		return syscall.EISDIR
	}
	if !st.Mode().IsRegular() {
		return syscall.EACCES
	}
	// Asks the kernel, so that a noexec mount or an ACL counts too.
	if err := unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, unix.AT_EACCESS); err != nil {
		return err
	}
	return nil
}

// checkDir returns an error wrapping ErrBadDir unless dir is a directory
// the daemon may enter.
func checkDir(dir string) error {
	bad := func(why error) error { return fmt.Errorf("%w: %s: %w", ErrBadDir, dir, why) }
	st, err := os.Stat(dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return bad(pe.Err)
		}
		return bad(err)
	}
	if !st.IsDir() {
		return bad(syscall.ENOTDIR)
	}
	if err := unix.Faccessat(unix.AT_FDCWD, dir, unix.X_OK, unix.AT_EACCESS); err != nil {
		return bad(err)
	}
	return nil
}
