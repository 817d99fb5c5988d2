// Package testpg gives tests a PostgreSQL database of their own.
//
// The server is the one named by CLEARANCE_TEST_POSTGRES_DSN (a DSN whose
// user may create databases; .ci/run starts one and exports it). When the
// variable is unset and initdb is installed, a throwaway cluster is started
// in a temporary directory for the test binary and stopped when it exits.
// When no server can be had the test is skipped, saying why, except under
// CI (the CI variable set), where it fails.
//
// Each call of DB creates a new database and drops it when the test ends,
// so packages and parallel tests never see each other's data.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the test server's DSN.
const EnvDSN = "CLEARANCE_TEST_POSTGRES_DSN"

// server is the test binary's server, found or started once: the one
// piece of shared state of this helper, set once and then only read.
var server = sync.OnceValues(findServer)

// Server is a running PostgreSQL server for tests.
type Server struct {
	// DSN connects as a user that may create databases.
	DSN string
	// Cluster is set when this binary started the server itself (so a
	// test may stop and start it).
	Cluster *Cluster
}

// Get returns the server, skipping (or, under CI, failing) t when there is
// none.
func Get(t testing.TB) *Server {
	t.Helper()
	s, err := server()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is needed under CI: %v", err)
		}
		t.Skipf("skipping: no PostgreSQL server for the tests (%v); set %s or install initdb", err, EnvDSN)
	}
	return s
}

// DB creates an empty database for t on the test server and returns its
// DSN; the database is dropped when t ends.
func DB(t testing.TB) string {
	t.Helper()
	return Get(t).NewDB(t)
}

// NewDB creates an empty database on s for t and returns its DSN.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "clearance_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.admin(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(s.DSN)
	if err != nil {
		t.Fatalf("test DSN: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func (s *Server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func findServer() (*Server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		if _, err := url.Parse(dsn); err != nil {
			return nil, fmt.Errorf("%s is not a postgres:// URL", EnvDSN)
		}
		return &Server{DSN: dsn}, nil
	}
	c, err := StartCluster()
	if err != nil {
		return nil, err
	}
	return &Server{DSN: c.DSN(), Cluster: c}, nil
}

// Cluster is a throwaway PostgreSQL cluster in a temporary directory, run
// by this process: it dies with it.
type Cluster struct {
	dir, bin string
	port     int
	cred     *syscall.Credential

	mu   sync.Mutex
	proc *os.Process
	done chan struct{}
}

// StartCluster runs initdb in a new temporary directory and starts the
// server on a free loopback port.
func StartCluster() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "clearance-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 { // the server refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := c.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// binDir finds the directory of initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("initdb is not installed")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// DSN connects to the cluster as its superuser.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server (again) and waits until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		return errors.New("postgres is running")
	}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		// Pdeathsig is sent when the thread that started the child ends:
		// this goroutine keeps its thread until the server exits.
		runtime.LockOSThread()
		cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", filepath.Join(c.dir, "data"),
			"-p", strconv.Itoa(c.port), "-k", c.dir, "-c", "listen_addresses=127.0.0.1",
			"-c", "fsync=off", "-c", "max_connections=400", "-c", "shared_buffers=32MB")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT}
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			started <- err
			close(done)
			return
		}
		c.proc = cmd.Process
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.done = done
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.DSN())
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		select {
		case <-done:
			c.proc = nil
			return errors.New("start postgres: the server exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("start postgres: not accepting connections after 30s")
}

// Stop stops the server at once (connections are cut, as when the
// database host goes away) and waits for it to exit.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return nil
	}
	// SIGINT: "fast" shutdown; clients are disconnected.
	if err := c.proc.Signal(syscall.SIGINT); err != nil {
		return err
	}
	<-c.done
	c.proc = nil
	return nil
}
