// Package adminapi is the admin API (SPEC §12): JSON over HTTP under
// /admin/api/v1 on the admin listener, for the operator's own systems to
// provision customers. It translates requests to the operations of
// authz/service and their errors to RFC 9457 problem details; it holds no
// rule of its own.
package adminapi

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/subscription"
	"github.com/clearance-gw/clearance/authz/websession"
	"github.com/clearance-gw/clearance/internal/clientip"
)

// Prefix is where the API is mounted.
const Prefix = "/admin/api/v1"

//go:embed openapi.json
var openapiDoc []byte

// Options configure the API.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// ClientAddr is the request's client address (server.trusted_proxies
	// applied), for throttling failed key attempts; the peer when nil.
	ClientAddr func(*http.Request) netip.Addr
	// MaxFailures and Window bound failed key attempts per client address
	// (defaults 10 per 15 minutes).
	MaxFailures int
	Window      time.Duration
}

// API serves /admin/api/v1.
type API struct {
	svc      *service.Service
	log      *slog.Logger
	now      func() time.Time
	addr     func(*http.Request) netip.Addr
	throttle *websession.Throttle
	mux      *http.ServeMux
	routes   []route
}

// route is one operation: its method, path (under Prefix, with {params})
// and handler. The router and openapi.json are checked against each other
// through this table.
type route struct {
	method, path string
	public       bool // served without a key
	fn           func(w http.ResponseWriter, r *http.Request) (int, error)
}

// New returns the API over svc.
func New(svc *service.Service, opts Options) *API {
	a := &API{svc: svc, log: opts.Logger, now: opts.Now, addr: opts.ClientAddr}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "admin_api")
	if a.now == nil {
		a.now = time.Now
	}
	if a.addr == nil {
		a.addr = clientip.Peer
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 10
	}
	a.throttle = websession.NewThrottle(websession.ThrottleOptions{Max: opts.MaxFailures, Window: opts.Window, Now: a.now})
	a.routes = []route{
		{"GET", "/users", false, a.listUsers},
		{"POST", "/users", false, a.createUser},
		{"GET", "/users/{name}", false, a.getUser},
		{"PATCH", "/users/{name}", false, a.updateUser},
		{"DELETE", "/users/{name}", false, a.deleteUser},
		{"GET", "/users/{name}/subscriptions", false, a.listSubscriptions},
		{"POST", "/users/{name}/subscriptions", false, a.addSubscription},
		{"DELETE", "/subscriptions/{id}", false, a.removeSubscription},
		{"GET", "/clients", false, a.listClients},
		{"POST", "/clients", false, a.createClient},
		{"GET", "/clients/{id}", false, a.getClient},
		{"PATCH", "/clients/{id}", false, a.updateClient},
		{"DELETE", "/clients/{id}", false, a.deleteClient},
		{"GET", "/clients/{id}/sessions", false, a.listSessions},
		{"DELETE", "/sessions/{id}", false, a.revokeSession},
		{"GET", "/clients/{id}/usage", false, a.usage},
		{"GET", "/keys", false, a.listKeys},
		{"POST", "/keys/rotate", false, a.rotateKeys},
		{"GET", "/openapi.json", true, a.openapi},
	}
	a.mux = http.NewServeMux()
	for _, rt := range a.routes {
		a.mux.Handle(rt.method+" "+Prefix+rt.path, a.handle(rt))
	}
	a.mux.HandleFunc(Prefix+"/", a.notFound)
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// keyContext carries the name of the admin API key of a request.
type keyContext struct{}

// handle authenticates the request (unless the route is public), runs the
// route and logs the call with the key's name, never the key.
func (a *API) handle(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := a.now()
		name, err := "", error(nil)
		if !rt.public {
			name, err = a.authenticate(r)
		}
		status := 0
		if err == nil {
			status, err = rt.fn(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, name)))
		}
		if err != nil {
			status = writeProblem(w, r, a.log, err)
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		a.log.Log(r.Context(), level, "admin api call", "api_key", name, "method", r.Method,
			"path", r.URL.Path, "status", status, "duration_ms", a.now().Sub(start).Milliseconds(),
			"client_addr", a.addr(r).String())
	})
}

// authenticate checks the Bearer key. Failed attempts are throttled per
// client address: the attempt is counted before the key is checked, and
// a success gives it back.
func (a *API) authenticate(r *http.Request) (string, error) {
	unauthorized := newProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized",
		"send an admin API key (clearance apikey create) as Authorization: Bearer <key>")
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return "", unauthorized
	}
	addr := clientip.Key(a.addr(r))
	res, wait := a.throttle.Reserve("admin-api:"+addr, addr)
	if wait > 0 {
		p := newProblem(http.StatusTooManyRequests, "throttled", "Too many failed attempts",
			"too many requests with a wrong admin API key from this address; try again later")
		p.retryAfter = wait
		return "", p
	}
	name, err := a.svc.AuthenticateAPIKey(r.Context(), key)
	switch {
	case err == nil:
		a.throttle.Succeeded(res)
		return name, nil
	case errors.Is(err, service.ErrBadAPIKey):
		return "", unauthorized
	default:
		a.throttle.Cancel(res)
		return "", err
	}
}

// notFound answers a path under Prefix that no route serves, to a caller
// with a key (others get 401, so paths cannot be probed without one): 405
// when another method serves it, else 404.
func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	if _, err := a.authenticate(r); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	var allow []string
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pat := a.mux.Handler(probe); pat != Prefix+"/" && pat != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, a.log, newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			r.Method+" is not an operation of "+r.URL.Path))
		return
	}
	writeProblem(w, r, a.log, newProblem(http.StatusNotFound, "not-found", "Not found", "no operation at "+r.URL.Path))
}

func (a *API) openapi(w http.ResponseWriter, _ *http.Request) (int, error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openapiDoc)
	return http.StatusOK, nil
}

func ok(w http.ResponseWriter, status int, v any) (int, error) {
	writeJSON(w, status, v)
	return status, nil
}

func noContent(w http.ResponseWriter) (int, error) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent, nil
}

// Users

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) (int, error) {
	us, err := a.svc.ListUsers(r.Context())
	if err != nil {
		return 0, err
	}
	out := make([]userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, toUser(u))
	}
	return ok(w, http.StatusOK, out)
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) (int, error) {
	var in userCreate
	if err := decode(w, r, &in); err != nil {
		return 0, err
	}
	u, err := a.svc.CreateUser(r.Context(), service.NewUser{Name: in.Name, Password: in.Password, Admin: in.Admin,
		Scopes: in.Scopes, Plan: in.Plan})
	if err != nil {
		return 0, err
	}
	w.Header().Set("Location", Prefix+"/users/"+u.Name)
	return ok(w, http.StatusCreated, toUser(u))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) (int, error) {
	u, err := a.svc.GetUser(r.Context(), r.PathValue("name"))
	if err != nil {
		return 0, err
	}
	return ok(w, http.StatusOK, toUser(u))
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) (int, error) {
	var in userPatch
	if err := decode(w, r, &in); err != nil {
		return 0, err
	}
	u, err := a.svc.UpdateUser(r.Context(), r.PathValue("name"), service.UserChange{Scopes: in.Scopes, Plan: in.Plan, Password: in.Password})
	if err != nil {
		return 0, err
	}
	return ok(w, http.StatusOK, toUser(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) (int, error) {
	if err := a.svc.DeleteUser(r.Context(), r.PathValue("name")); err != nil {
		return 0, err
	}
	return noContent(w)
}

// Subscriptions

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) (int, error) {
	subs, err := a.svc.ListSubscriptions(r.Context(), r.PathValue("name"))
	if err != nil {
		return 0, err
	}
	now := a.now()
	out := make([]subscription.View, 0, len(subs))
	for _, s := range subs {
		out = append(out, subscription.ViewOf(s, now))
	}
	return ok(w, http.StatusOK, out)
}

func (a *API) addSubscription(w http.ResponseWriter, r *http.Request) (int, error) {
	var in subscriptionCreate
	if err := decode(w, r, &in); err != nil {
		return 0, err
	}
	s, err := a.svc.AddSubscription(r.Context(), service.NewSubscription{User: r.PathValue("name"), Type: in.Type,
		Name: in.Name, DateActive: in.DateActive, DateExpiry: in.DateExpiry})
	if err != nil {
		return 0, err
	}
	return ok(w, http.StatusCreated, subscription.ViewOf(s, a.now()))
}

func (a *API) removeSubscription(w http.ResponseWriter, r *http.Request) (int, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, newProblem(http.StatusNotFound, "not-found", "Not found", "no subscription "+strconv.Quote(r.PathValue("id")))
	}
	if err := a.svc.RemoveSubscription(r.Context(), id); err != nil {
		return 0, err
	}
	return noContent(w)
}

// Clients

func (a *API) listClients(w http.ResponseWriter, r *http.Request) (int, error) {
	cls, err := a.svc.ListClients(r.Context(), r.URL.Query().Get("owner"))
	if err != nil {
		return 0, err
	}
	out := make([]clientJSON, 0, len(cls))
	for _, c := range cls {
		out = append(out, toClient(c))
	}
	return ok(w, http.StatusOK, out)
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request) (int, error) {
	var in clientCreate
	if err := decode(w, r, &in); err != nil {
		return 0, err
	}
	c, sec, err := a.svc.CreateClient(r.Context(), service.NewClient{ID: in.ID, Name: in.Name, Grants: in.Grants,
		Scopes: in.Scopes, RedirectURIs: in.RedirectURIs, AllowedOrigins: in.AllowedOrigins, FirstParty: in.FirstParty,
		Owner: in.Owner, Plan: in.Plan})
	if err != nil {
		return 0, err
	}
	out := toClient(c)
	out.Secret = sec
	w.Header().Set("Location", Prefix+"/clients/"+c.ID)
	return ok(w, http.StatusCreated, out)
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request) (int, error) {
	c, err := a.svc.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, err
	}
	return ok(w, http.StatusOK, toClient(c))
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request) (int, error) {
	var in clientPatch
	if err := decode(w, r, &in); err != nil {
		return 0, err
	}
	c, err := a.svc.UpdateClient(r.Context(), r.PathValue("id"), service.ClientChange{Name: in.Name, Grants: in.Grants,
		Scopes: in.Scopes, RedirectURIs: in.RedirectURIs, AllowedOrigins: in.AllowedOrigins, FirstParty: in.FirstParty, Plan: in.Plan})
	if err != nil {
		return 0, err
	}
	return ok(w, http.StatusOK, toClient(c))
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request) (int, error) {
	if err := a.svc.DeleteClient(r.Context(), r.PathValue("id")); err != nil {
		return 0, err
	}
	return noContent(w)
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) (int, error) {
	ss, err := a.svc.ListSessions(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, err
	}
	out := make([]sessionJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, toSession(s))
	}
	return ok(w, http.StatusOK, out)
}

func (a *API) revokeSession(w http.ResponseWriter, r *http.Request) (int, error) {
	if err := a.svc.RevokeSession(r.Context(), r.PathValue("id")); err != nil {
		return 0, err
	}
	return noContent(w)
}

func (a *API) usage(w http.ResponseWriter, r *http.Request) (int, error) {
	days := 30
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, &service.ValidationError{Fields: []service.FieldError{{Field: "days", Detail: "must be a whole number"}}}
		}
		days = n
	}
	rep, err := a.svc.Usage(r.Context(), r.PathValue("id"), days)
	if err != nil {
		return 0, err
	}
	return ok(w, http.StatusOK, toUsage(r.PathValue("id"), rep))
}

// Keys

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) (int, error) {
	ks, err := a.svc.ListKeys(r.Context())
	if err != nil {
		return 0, err
	}
	now := a.now()
	out := make([]keyJSON, 0, len(ks))
	for _, k := range ks {
		out = append(out, toKey(k, now))
	}
	return ok(w, http.StatusOK, out)
}

func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request) (int, error) {
	old, cur, _, err := a.svc.RotateKeys(r.Context())
	if err != nil {
		return 0, err
	}
	return ok(w, http.StatusOK, rotateJSON{RetiredKID: old, SigningKID: cur})
}
