// Package layout holds one test: the import rules of ARCHITECTURE's layout,
// checked on the source tree so that a change that breaks them fails here
// rather than in review.
package layout

import (
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/clearance-gw/clearance"

// graph is the module's import graph without tests: package path (relative
// to the module, "" for the root) to the module packages it imports.
type graph map[string][]string

// moduleRoot is the directory of go.mod, two levels above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	return root
}

func loadGraph(t *testing.T) graph {
	t.Helper()
	root := moduleRoot(t)
	g := graph{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			var none *build.NoGoError
			if errors.As(err, &none) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		var deps []string
		for _, imp := range p.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				deps = append(deps, strings.TrimPrefix(strings.TrimPrefix(imp, module), "/"))
			}
		}
		g[rel] = deps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// path returns an import chain from pkg to dep (pkg first), or nil if pkg
// does not depend on dep, directly or not.
func (g graph) path(pkg, dep string) []string {
	prev := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, d := range g[p] {
			if _, seen := prev[d]; seen {
				continue
			}
			prev[d] = p
			if d == dep {
				chain := []string{d}
				for x := p; x != ""; x = prev[x] {
					chain = append(chain, x)
				}
				slices.Reverse(chain)
				return chain
			}
			queue = append(queue, d)
		}
	}
	return nil
}

func TestImportRules(t *testing.T) {
	g := loadGraph(t)
	for _, pkg := range []string{"authz/guard", "authz/issuer", "proxy", "config"} {
		if _, ok := g[pkg]; !ok {
			t.Fatalf("package %s not found", pkg)
		}
	}
	// The walk sees real edges: the proxy uses the guard, the guard config.
	if g.path("proxy", "authz/guard") == nil || g.path("authz/guard", "config") == nil {
		t.Fatal("import graph misses known edges")
	}
	never := []struct{ pkg, dep, why string }{
		{"authz/guard", "authz/store", "the guard reads in-memory views through its own interfaces"},
		{"authz/guard", "authz/issuer", "the gateway does not depend on the authorization server"},
		{"authz/guard", "authz/portal", "the gateway does not depend on the authorization server"},
		{"authz/guard", "authz/signing", "the guard verifies with public keys it is given"},
		{"authz/issuer", "authz/guard", "the authorization server does not depend on the gateway"},
		{"authz/issuer", "proxy", "the authorization server does not depend on the gateway"},
		{"authz/portal", "authz/guard", "the authorization server does not depend on the gateway"},
		{"authz/portal", "proxy", "the authorization server does not depend on the gateway"},
		{"proxy", "authz/store", "the proxy reaches state only through the guard's views"},
		{"proxy", "authz/issuer", "internal/cli mounts the issuer's endpoints"},
		{"proxy", "authz/portal", "internal/cli mounts the portal"},
	}
	for _, r := range never {
		if chain := g.path(r.pkg, r.dep); chain != nil {
			t.Errorf("%s imports %s (%s): %s", r.pkg, r.dep, strings.Join(chain, " -> "), r.why)
		}
	}
	// Store implementations are chosen only in internal/cli (and test helpers).
	for pkg, deps := range g {
		if pkg == "internal/cli" || strings.HasPrefix(pkg, "internal/test") || strings.HasPrefix(pkg, "authz/store/") {
			continue
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "authz/store/") && d != "authz/store/storetest" {
				t.Errorf("%s imports the store implementation %s; only internal/cli chooses one", pkg, d)
			}
		}
	}
}

// TestAuthzRootIsTheMap: the authz directory holds only doc.go, the map of
// the tree; code lives in its sub-packages.
func TestAuthzRootIsTheMap(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(moduleRoot(t), "authz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") && e.Name() != "doc.go" {
			t.Errorf("authz/%s: the authz root holds only doc.go", e.Name())
		}
	}
}
