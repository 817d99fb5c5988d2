//go:build unix

package readmetest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/testlog"
)

// How long one step may take before the test gives up on it. They are
// bounds for a hung command, not measurements: a step normally takes
// milliseconds.
const (
	stepTimeout  = 60 * time.Second
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// TestReadme pastes every shell block of README.md, in order, as the README
// says: servers in terminals of their own, everything else in one shell
// session. It runs in a temporary directory holding copies of the
// configuration files, with the binaries built once, and the README's
// ports (8080, 9000, 9090) replaced by free ones.
func TestReadme(t *testing.T) {
	bash := lookTool(t, "bash")
	lookTool(t, "curl")
	lookTool(t, "sed")

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := Parse(f)
	f.Close()
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}

	r := &runner{t: t, bash: bash, work: t.TempDir(), bin: t.TempDir(), servers: map[int]*server{}}
	r.ports = freePorts(t, "8080", "9000", "9090")
	r.build(root)
	r.copyConfigs(root)
	r.startShell()
	t.Cleanup(r.stopAll)

	ran, skipped, checked := 0, 0, 0
	for _, b := range blocks {
		if b.Skip != "" {
			t.Logf("README.md:%d: not run: %s", b.Line, b.Skip)
			skipped++
			continue
		}
		if b.Terminal != 1 {
			r.serve(b)
			ran++
			continue
		}
		for _, u := range b.Units {
			r.run(u)
			checked += len(u.Expect)
		}
		ran++
	}
	t.Logf("%d blocks run, %d not run, %d output lines checked", ran, skipped, checked)
	if ran == 0 || checked == 0 {
		t.Fatal("no shell block ran or no output was checked: has the README lost its examples?")
	}
}

// lookTool finds a program the README's examples need; without it the
// examples cannot run at all.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: the README's examples need it", name)
	}
	return p
}

// freePorts maps each port of the README to one the kernel has free now.
func freePorts(t *testing.T, ports ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	var lns []net.Listener
	for _, p := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		m[p] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return m
}

type runner struct {
	t       *testing.T
	bash    string
	work    string            // the directory the README's commands run in
	bin     string            // the prebuilt binaries
	ports   map[string]string // README port -> the port used here
	env     []string
	shell   *exec.Cmd
	stdin   io.WriteCloser
	status  chan string    // one line per finished step, closed when the shell exits
	shOut   testlog.Buffer // the shell's own output, outside any step
	step    int
	servers map[int]*server // by terminal
}

var portRE = regexp.MustCompile(`\b(8080|9000|9090)\b`)

// localize gives text the ports of this run.
func (r *runner) localize(text string) string {
	return portRE.ReplaceAllStringFunc(text, func(p string) string { return r.ports[p] })
}

// goCommands are the README's go commands and what runs instead: the
// binaries built once, the sample API on this run's port.
func (r *runner) goCommand(line string) (string, bool) {
	up := "127.0.0.1:" + r.ports["9000"]
	bin := `"$READMETEST_BIN/`
	for prefix, repl := range map[string]string{
		"go build -o clearance ./cmd/clearance": `cp ` + bin + `clearance" ./clearance`,
		"go run ./examples/upstream":            bin + `upstream" -listen ` + up,
		"go run ./examples/quickstart":          bin + `quickstart" -upstream ` + up,
	} {
		if line == prefix || strings.HasPrefix(line, prefix+" ") {
			return repl + line[len(prefix):], true
		}
	}
	return "", false
}

// rewrite turns a README script into the one this run pastes.
func (r *runner) rewrite(line int, script string) string {
	lines := strings.Split(r.localize(script), "\n")
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		if !strings.HasPrefix(trimmed, "go ") {
			continue
		}
		repl, ok := r.goCommand(trimmed)
		if !ok {
			r.t.Fatalf("README.md:%d: the test does not know how to run %q: teach it (goCommand) or mark the block <!-- not run: REASON -->", line+i, trimmed)
		}
		lines[i] = repl
	}
	return strings.Join(lines, "\n")
}

// The programs the README runs, built once.
var programs = []string{"./cmd/clearance", "./examples/upstream", "./examples/quickstart"}

// build compiles the binaries the README runs, once.
func (r *runner) build(root string) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	// Without debug information (-s -w) they link in about half the time.
	cmd := exec.Command(goTool, append([]string{"build", "-ldflags=-s -w", "-o", r.bin + string(filepath.Separator)}, programs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("go build: %v\n%s", err, out)
	}
	r.consultSources(goTool, root)
}

// consultSources looks at every file of this module the binaries are built
// from. This package imports none of them, so without this "go test" would
// reuse a cached result after a change to the code the README runs; files
// a test looks at are part of its cache key.
func (r *runner) consultSources(goTool, root string) {
	cmd := exec.Command(goTool, append([]string{"list", "-deps", "-f",
		`{{if not .Standard}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`}, programs...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, f := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(root, f); err == nil && !strings.HasPrefix(rel, "..") {
			if _, err := os.Stat(f); err != nil {
				r.t.Fatal(err)
			}
			n++
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			r.t.Fatal(err)
		}
	}
	if n == 0 {
		r.t.Fatal("go list named no source file of this module")
	}
}

// copyConfigs puts the configuration files the README names into the
// working directory, with this run's ports.
func (r *runner) copyConfigs(root string) {
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if err != nil {
		r.t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "gateway.yaml"))
	for _, src := range files {
		rel, err := filepath.Rel(root, src)
		if err != nil {
			r.t.Fatal(err)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			r.t.Fatal(err)
		}
		dst := filepath.Join(r.work, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(r.localize(string(b))), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(r.work, ".readme"), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// startShell starts the first terminal: a bash session that runs each step
// from a file and reports on file descriptor 3 when it is done.
func (r *runner) startShell() {
	home := r.t.TempDir()
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CLEARANCE_") || strings.HasPrefix(kv, "HOME=") {
			continue // a fresh machine: none of the operator's settings
		}
		r.env = append(r.env, kv)
	}
	r.env = append(r.env, "HOME="+home, "READMETEST_BIN="+r.bin)

	pr, pw, err := os.Pipe()
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(r.bash, "--noprofile", "--norc")
	cmd.Dir, cmd.Env = r.work, r.env
	cmd.Stdout, cmd.Stderr = &r.shOut, &r.shOut
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	pw.Close()
	r.shell = cmd
	r.status = make(chan string)
	go func() {
		defer close(r.status)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.status <- sc.Text()
		}
		pr.Close()
	}()
	// Stricter than an interactive shell, so that no failure goes unseen:
	// a failing command anywhere in a step (also inside a pipe or $(...))
	// is recorded, and an unset variable stops the session.
	io.WriteString(r.stdin, `set -u -o pipefail
trap 'printf "%s (exit %s)\n" "$BASH_COMMAND" "$?" >> "$READMETEST_ERR"' ERR
`)
}

// run pastes one step into the first terminal and checks what it printed.
func (r *runner) run(u Unit) {
	r.t.Helper()
	r.step++
	n := r.step
	script := r.rewrite(u.Line, u.Script)
	base := filepath.Join(".readme", strconv.Itoa(n))
	if err := os.WriteFile(filepath.Join(r.work, base+".sh"), []byte(script), 0o644); err != nil {
		r.t.Fatal(err)
	}
	// Stdin is /dev/null: a command waiting for input must not read the
	// steps that follow.
	fmt.Fprintf(r.stdin, "READMETEST_ERR=%[1]s.err; . %[1]s.sh >%[1]s.out 2>&1 </dev/null; echo %[2]d >&3\n", base, n)

	out := func() string {
		b, _ := os.ReadFile(filepath.Join(r.work, base+".out"))
		return string(b)
	}
	select {
	case s, ok := <-r.status:
		if !ok {
			r.t.Fatalf("README.md:%d: the shell exited (an unset variable?):\n%s\n--- output:\n%s%s", u.Line, u.Script, out(), r.shOut.String())
		}
		if s != strconv.Itoa(n) {
			r.t.Fatalf("README.md:%d: step %s reported, want %d", u.Line, s, n)
		}
	case <-time.After(stepTimeout):
		r.t.Fatalf("README.md:%d: not done after %v:\n%s\n--- output so far:\n%s", u.Line, stepTimeout, u.Script, out())
	}
	if failed, _ := os.ReadFile(filepath.Join(r.work, base+".err")); len(failed) > 0 {
		r.t.Fatalf("README.md:%d: a command failed: %s\n--- step:\n%s--- output:\n%s", u.Line, failed, u.Script, out())
	}
	if len(u.Expect) == 0 {
		return
	}
	expect := make([]string, len(u.Expect))
	for i, e := range u.Expect {
		expect[i] = r.localize(e)
	}
	if missing, ok := Match(expect, out()); !ok {
		r.t.Fatalf("README.md:%d: the output has no line %q after the lines matched before it\n--- step:\n%s--- output:\n%s", u.Line, "# => "+missing, u.Script, out())
	}
}

// assignRE matches the variable assignments that start a command line
// (values without quotes or spaces).
var assignRE = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]*=[^\s'"]*\s+)*`)

// execLine is the shell text that replaces the shell with a terminal's
// command, so that Ctrl-C reaches the server itself. "NAME=value cmd"
// gives cmd a variable: the assignments go before exec, which would take
// the first of them for the program.
func execLine(cmdLine string) string {
	assign := assignRE.FindString(cmdLine)
	return assign + "exec " + cmdLine[len(assign):]
}

// server is a command that keeps running in a terminal of its own.
type server struct {
	line string
	cmd  *exec.Cmd
	out  testlog.Buffer
	done chan struct{}
}

// serve starts the block's server in its terminal, after stopping the one
// running there, and waits until it accepts connections.
func (r *runner) serve(b Block) {
	r.t.Helper()
	if len(b.Units) != 1 {
		r.t.Fatalf("README.md:%d: a terminal block holds one command that keeps running", b.Line)
	}
	var cmdLine string
	for _, l := range strings.Split(r.rewrite(b.Units[0].Line, b.Units[0].Script), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			if cmdLine != "" {
				r.t.Fatalf("README.md:%d: a terminal block holds one command that keeps running", b.Line)
			}
			cmdLine = t
		}
	}
	if old := r.servers[b.Terminal]; old != nil {
		r.stop(old) // Ctrl-C
	}
	s := &server{line: cmdLine, done: make(chan struct{})}
	s.cmd = exec.Command(r.bash, "--noprofile", "--norc", "-c", execLine(cmdLine))
	s.cmd.Dir, s.cmd.Env = r.work, r.env
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		r.t.Fatalf("README.md:%d: %v", b.Line, err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	r.servers[b.Terminal] = s

	// What it listens on, in this run's ports.
	var ports []string
	switch {
	case strings.Contains(cmdLine, "/upstream\""):
		ports = []string{"9000"}
	case strings.Contains(cmdLine, "/quickstart\""):
		ports = []string{"8080", "9090", "9000"}
	case strings.Contains(cmdLine, "clearance serve"):
		ports = []string{"8080", "9090"}
	default:
		r.t.Fatalf("README.md:%d: the test does not know what %q listens on", b.Line, cmdLine)
	}
	deadline := time.Now().Add(startTimeout)
	for _, p := range ports {
		addr := "127.0.0.1:" + r.ports[p]
		for {
			select {
			case <-s.done:
				r.t.Fatalf("README.md:%d: %q exited:\n%s", b.Line, cmdLine, s.out.String())
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				r.t.Fatalf("README.md:%d: %q does not listen on %s after %v:\n%s", b.Line, cmdLine, addr, startTimeout, s.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if strings.Contains(cmdLine, "/quickstart\"") {
		// Ready once it has printed its lines, its tokens made.
		for !strings.Contains(s.out.String(), "Press Ctrl-C to stop.") {
			select {
			case <-s.done:
				r.t.Fatalf("README.md:%d: %q exited:\n%s", b.Line, cmdLine, s.out.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				r.t.Fatalf("README.md:%d: %q printed no lines to try after %v:\n%s", b.Line, cmdLine, startTimeout, s.out.String())
			}
		}
	}
}

// stop ends a server as Ctrl-C does (SIGINT to its process group) and
// waits for it.
func (r *runner) stop(s *server) {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		r.t.Errorf("%q did not stop within %v of Ctrl-C:\n%s", s.line, stopTimeout, s.out.String())
	}
}

func (r *runner) stopAll() {
	for _, s := range r.servers {
		r.stop(s)
	}
	if r.shell != nil {
		r.stdin.Close()
		done := make(chan struct{})
		go func() { r.shell.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopTimeout):
			syscall.Kill(-r.shell.Process.Pid, syscall.SIGKILL)
			<-done
		}
		for range r.status {
		}
	}
}

func TestExecLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`./clearance serve --config gateway.yaml`, `exec ./clearance serve --config gateway.yaml`},
		{`PARTNER_SECRET=sample-1 ./clearance serve`, `PARTNER_SECRET=sample-1 exec ./clearance serve`},
		{`A=1 B=$X ./clearance serve`, `A=1 B=$X exec ./clearance serve`},
		{`./clearance serve A=1`, `exec ./clearance serve A=1`},
	} {
		if got := execLine(tt.in); got != tt.want {
			t.Errorf("execLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// The result runs: the variable reaches the program exec starts.
	out, err := exec.Command(lookTool(t, "bash"), "--noprofile", "--norc", "-c", execLine(`READMETEST_X=ok printenv READMETEST_X`)).Output()
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("got %q, %v; want \"ok\\n\"", out, err)
	}
}
