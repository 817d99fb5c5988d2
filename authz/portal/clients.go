package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

func clientPath(id string) string { return "/portal/clients/" + url.PathEscape(id) }

type listPage struct {
	Clients []store.Client
	ID      string // the New client form, kept on an error
	Name    string
	Scopes  []scopeBox // the scopes the user may choose from
	Errors  []string
	Notice  string
}

// scopeBox is one scope checkbox.
type scopeBox struct {
	Name    string
	Checked bool
}

// scopeBoxes lists entitled as checkboxes, those in checked ticked.
func scopeBoxes(entitled, checked []string) []scopeBox {
	out := make([]scopeBox, 0, len(entitled))
	for _, s := range entitled {
		out = append(out, scopeBox{Name: s, Checked: slices.Contains(checked, s)})
	}
	return out
}

// chosenScopes reads the "scope" checkboxes of a form. Every scope must be
// one the user is entitled to: anything else (a forged form) is a problem
// naming it. The result follows the order of entitled.
func chosenScopes(r *http.Request, entitled []string) ([]string, []string) {
	var problems []string
	posted := r.PostForm["scope"]
	for _, s := range posted {
		if !slices.Contains(entitled, s) {
			problems = append(problems, "You cannot give a client the scope “"+s+"”: it is not among the scopes you are entitled to.")
		}
	}
	chosen := []string{}
	for _, s := range entitled {
		if slices.Contains(posted, s) {
			chosen = append(chosen, s)
		}
	}
	return chosen, problems
}

func (p *Portal) serveList(w http.ResponseWriter, r *http.Request) {
	user, ok, err := p.signedIn(r)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if !ok {
		p.toLogin(w, r, r.URL.RequestURI())
		return
	}
	p.renderList(w, r, user, http.StatusOK, listPage{Notice: r.URL.Query().Get("deleted")})
}

func (p *Portal) renderList(w http.ResponseWriter, r *http.Request, user string, status int, page listPage) {
	cs, err := p.st.ListClients(r.Context(), user)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if page.Scopes == nil {
		// A fresh form offers every scope the user is entitled to, ticked.
		entitled, err := p.ents.Entitled(r.Context(), user)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		page.Scopes = scopeBoxes(entitled, entitled)
	}
	if page.Notice != "" {
		page.Notice = "Client “" + page.Notice + "” was deleted."
	}
	page.Clients = cs
	p.render(w, r, status, "list", view{Title: "Your clients", User: user, Page: page}, "")
}

// serveCreate registers a client owned by the user, with a secret it shows
// once (a sealed flash read by the next page), the scopes the user ticked
// among those they are entitled to, and no grant until the user enables
// one.
func (p *Portal) serveCreate(w http.ResponseWriter, r *http.Request, user string) {
	page := listPage{ID: r.PostFormValue("id"), Name: r.PostFormValue("name")}
	entitled, err := p.ents.Entitled(r.Context(), user)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	scopes, problems := chosenScopes(r, entitled)
	page.Scopes = scopeBoxes(entitled, scopes)
	id, err := normalizeClientID(page.ID)
	if err != nil {
		page.Errors = append(page.Errors, err.Error())
	}
	name, err := normalizeName(page.Name)
	if err != nil {
		page.Errors = append(page.Errors, err.Error())
	}
	page.Errors = append(page.Errors, problems...)
	if len(page.Errors) > 0 {
		p.renderList(w, r, user, http.StatusBadRequest, page)
		return
	}
	sec, err := secret.NewClientSecret()
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	c := store.Client{ID: id, Name: name, SecretHash: secret.HashSecret(sec), Grants: []string{},
		Scopes: scopes, RedirectURIs: []string{}, AllowedOrigins: []string{},
		Owner: user, PortalMade: true, CreatedAt: p.now().UTC()}
	switch err := p.st.CreateClient(r.Context(), c); {
	case errors.Is(err, store.ErrConflict):
		// One message for a client's id and a user's name: both are taken.
		page.Errors = append(page.Errors, "That identifier is taken: it is another client's identifier or a user's name "+
			"(compared without regard to case). Choose another one.")
		p.renderList(w, r, user, http.StatusConflict, page)
		return
	case err != nil:
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "client created", "client_id", id, "user", user)
	if err := p.setFlash(w, id, user, flash{Kind: "secret", Value: sec}); err != nil {
		p.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, clientPath(id), http.StatusSeeOther)
}

// flash is a value shown once on a client's page.
type flash struct {
	Client  string    `json:"c"`
	Kind    string    `json:"k"` // "secret" or "token"
	Value   string    `json:"v"`
	Expires time.Time `json:"e,omitzero"`
}

// flashPath is where flashes are read: every client page (a cookie path
// naming one client would have to match its escaped spaces, which cookie
// jars do not treat alike). The flash names its client.
const flashPath = "/portal/clients/"

func (p *Portal) setFlash(w http.ResponseWriter, id, user string, f flash) error {
	f.Client = id
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return p.cookies.SetFlash(w, flashPath, user, string(b))
}

type grantRow struct {
	Name    string
	Label   string
	Help    string
	Enabled bool
}

type clientPage struct {
	Client       store.Client
	Path         string
	Grants       []grantRow
	Scopes       []scopeBox // the scopes the owner may tick
	OtherScopes  []string   // the client's scopes outside them
	Limited      bool       // OtherScopes are not issued (a portal client)
	RedirectURIs string
	Origins      string
	Errors       []string
	Notice       string
	Sessions     []store.Session
	Secret       string
	Token        string
	TokenExpires time.Time
	CanMint      bool
	A2AEnabled   bool // Create token need not turn the a2a grant on
	Public       bool
	Usage        *usageView // nil without a UsageReporter
}

func grantLabel(g string) (string, string) {
	switch g {
	case config.GrantClientCredentials:
		return "Client credentials", "Your server calls the API with its own id and secret."
	case config.GrantAuthorizationCode:
		return "Authorization code", "Users sign in and consent; your app gets a code (with PKCE)."
	case config.GrantRefreshToken:
		return "Refresh tokens", "Long-lived sign-in: new access tokens without asking again."
	case config.GrantImplicit:
		return "Implicit", "Legacy browser apps: the token comes back in the URL fragment."
	case config.GrantA2A:
		return "Application-to-application tokens", "Long-lived tokens for this client acting as you (Create token, below)."
	}
	return g, ""
}

func (p *Portal) clientView(r *http.Request, c store.Client) (clientPage, error) {
	page := clientPage{Client: c, Path: clientPath(c.ID), RedirectURIs: lines(c.RedirectURIs),
		Origins: lines(c.AllowedOrigins), CanMint: p.minter != nil, Public: len(c.SecretHash) == 0,
		A2AEnabled: slices.Contains(c.Grants, config.GrantA2A)}
	for _, g := range p.grants {
		label, help := grantLabel(g)
		page.Grants = append(page.Grants, grantRow{Name: g, Label: label, Help: help, Enabled: slices.Contains(c.Grants, g)})
	}
	entitled, err := p.ents.Entitled(r.Context(), c.Owner)
	if err != nil {
		return page, err
	}
	page.Scopes = scopeBoxes(entitled, c.Scopes)
	for _, s := range c.Scopes {
		if !slices.Contains(entitled, s) {
			page.OtherScopes = append(page.OtherScopes, s)
		}
	}
	page.Limited = c.PortalMade
	ss, err := p.st.ListSessions(r.Context(), c.ID, p.now())
	if err != nil {
		return page, err
	}
	page.Sessions = ss
	if p.usage != nil {
		rep, err := p.usage.Usage(r.Context(), c, usageDays)
		if err != nil {
			return page, err
		}
		v := newUsageView(rep)
		page.Usage = &v
	}
	return page, nil
}

func lines(s []string) string { return strings.Join(s, "\n") }

func (p *Portal) renderClient(w http.ResponseWriter, r *http.Request, user string, status int, page clientPage) {
	p.render(w, r, status, "client", view{Title: page.Client.Name, User: user, Script: true, Page: page}, "")
}

func (p *Portal) serveClient(w http.ResponseWriter, r *http.Request) {
	user, ok, err := p.signedIn(r)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if !ok {
		p.toLogin(w, r, r.URL.RequestURI())
		return
	}
	c, ok, err := p.ownClient(r, user)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if !ok {
		p.notFound(w, r, user)
		return
	}
	page, err := p.clientView(r, c)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if v, ok := p.cookies.TakeFlash(w, r, flashPath, user); ok {
		var f flash
		if json.Unmarshal([]byte(v), &f) == nil && f.Client == c.ID {
			switch f.Kind {
			case "secret":
				page.Secret = f.Value
			case "token":
				page.Token, page.TokenExpires = f.Value, f.Expires
			}
		}
	}
	switch r.URL.Query().Get("saved") {
	case "grants":
		page.Notice = "Grants saved."
	case "uris":
		page.Notice = "Redirect URIs and origins saved."
	case "scopes":
		page.Notice = "Scopes saved."
	case "revoked":
		page.Notice = "Session deleted: its tokens no longer work."
	}
	p.renderClient(w, r, user, http.StatusOK, page)
}

// serveGrants saves the grant selects: from the script (Accept:
// application/json, answered with JSON) or from the form (redirect back).
// A grant whose field is missing is left as it is; grants the portal does
// not offer (set by the operator) are never touched.
func (p *Portal) serveGrants(w http.ResponseWriter, r *http.Request, user string, c store.Client) {
	enabled := slices.Clone(c.Grants)
	var problems []string
	for _, g := range p.grants {
		v, present := r.PostForm["grant_"+g]
		if !present || len(v) == 0 {
			continue
		}
		switch v[len(v)-1] {
		case "on":
			if config.SecretGrant(g) && len(c.SecretHash) == 0 {
				problems = append(problems, "A client without a secret cannot use "+g+".")
				continue
			}
			if !slices.Contains(enabled, g) {
				enabled = append(enabled, g)
			}
		case "off":
			enabled = slices.DeleteFunc(enabled, func(x string) bool { return x == g })
		default:
			problems = append(problems, "Choose on or off for "+g+".")
		}
	}
	if len(problems) > 0 {
		if wantsJSON(r) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": problems[0], "grants": c.Grants})
			return
		}
		page, err := p.clientView(r, c)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		page.Errors = problems
		p.renderClient(w, r, user, http.StatusBadRequest, page)
		return
	}
	c.Grants = enabled
	if err := p.st.UpdateClient(r.Context(), c); err != nil {
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "client grants changed", "client_id", c.ID, "user", user, "grants", enabled)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"client_id": c.ID, "grants": enabled})
		return
	}
	http.Redirect(w, r, clientPath(c.ID)+"?saved=grants", http.StatusSeeOther)
}

// serveScopes saves the scope checkboxes: the client gets the ticked ones
// among the scopes its owner is entitled to. Its scopes outside them
// (given by the operator, or no longer entitled) are left as they are;
// a forged form naming any other scope is refused.
func (p *Portal) serveScopes(w http.ResponseWriter, r *http.Request, user string, c store.Client) {
	entitled, err := p.ents.Entitled(r.Context(), user)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	chosen, problems := chosenScopes(r, entitled)
	if len(problems) > 0 {
		page, err := p.clientView(r, c)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		page.Errors = problems
		p.renderClient(w, r, user, http.StatusBadRequest, page)
		return
	}
	for _, s := range c.Scopes {
		if !slices.Contains(entitled, s) && !slices.Contains(chosen, s) {
			chosen = append(chosen, s)
		}
	}
	c.Scopes = chosen
	if err := p.st.UpdateClient(r.Context(), c); err != nil {
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "client scopes changed", "client_id", c.ID, "user", user, "scopes", chosen)
	http.Redirect(w, r, clientPath(c.ID)+"?saved=scopes", http.StatusSeeOther)
}

func (p *Portal) serveURIs(w http.ResponseWriter, r *http.Request, user string, c store.Client) {
	rawURIs, rawOrigins := r.PostFormValue("redirect_uris"), r.PostFormValue("allowed_origins")
	uris, p1 := parseRedirectURIs(rawURIs)
	origins, p2 := parseOrigins(rawOrigins)
	if problems := append(p1, p2...); len(problems) > 0 {
		page, err := p.clientView(r, c)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		page.Errors, page.RedirectURIs, page.Origins = problems, rawURIs, rawOrigins
		p.renderClient(w, r, user, http.StatusBadRequest, page)
		return
	}
	if uris == nil {
		uris = []string{}
	}
	if origins == nil {
		origins = []string{}
	}
	c.RedirectURIs, c.AllowedOrigins = uris, origins
	if err := p.st.UpdateClient(r.Context(), c); err != nil {
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "client redirect URIs changed", "client_id", c.ID, "user", user)
	http.Redirect(w, r, clientPath(c.ID)+"?saved=uris", http.StatusSeeOther)
}

// serveDelete deletes the client after the confirm box was ticked, through
// the Revoker: every token issued to it or through it (its own, the a2a
// tokens, its users' sessions) is refused by the proxy at once, and a
// later client of the same id does not revive them.
func (p *Portal) serveDelete(w http.ResponseWriter, r *http.Request, user string, c store.Client) {
	if r.PostFormValue("confirm") != "yes" {
		page, err := p.clientView(r, c)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		page.Errors = []string{"Tick the box to confirm that the client should be deleted."}
		p.renderClient(w, r, user, http.StatusBadRequest, page)
		return
	}
	if err := p.revoker.DeleteClient(r.Context(), c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "client deleted", "client_id", c.ID, "user", user)
	http.Redirect(w, r, "/portal/?deleted="+url.QueryEscape(c.ID), http.StatusSeeOther)
}

// serveCreateToken mints an application-to-application token for the user
// through this client and shows it once. An a2a token is only ever made
// for a client that has the a2a grant enabled: when this one does not, the
// form has said that creating a token turns the grant on, and the owner's
// click is the consent, so the grant is saved on the client first.
func (p *Portal) serveCreateToken(w http.ResponseWriter, r *http.Request, user string, c store.Client) {
	if p.minter == nil {
		p.notFound(w, r, user)
		return
	}
	showError := func(msg string) {
		page, err := p.clientView(r, c)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		page.Errors = []string{msg}
		p.renderClient(w, r, user, http.StatusBadRequest, page)
	}
	// The token carries the client's scopes the user is entitled to now
	// (the issuer applies the same rule); with none it is not made.
	scopes, limited, err := p.ents.ClientScopes(r.Context(), c)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if limited && len(scopes) == 0 {
		showError("This client has no scope you are entitled to, so a token would carry none. Tick a scope under Scopes first.")
		return
	}
	if !slices.Contains(c.Grants, config.GrantA2A) {
		if len(c.SecretHash) == 0 {
			showError("A client without a secret cannot have application-to-application tokens.")
			return
		}
		c.Grants = append(slices.Clone(c.Grants), config.GrantA2A)
		if err := p.st.UpdateClient(r.Context(), c); err != nil {
			p.serverError(w, r, err)
			return
		}
		p.log.InfoContext(r.Context(), "client grants changed", "client_id", c.ID, "user", user, "grants", c.Grants,
			"reason", "create token")
	}
	tok, exp, err := p.minter.MintA2A(r.Context(), c.ID, user)
	if errors.Is(err, ErrA2ANotEnabled) {
		// Turned off again between the save and the mint.
		showError("The a2a grant of this client was turned off meanwhile: no token was made.")
		return
	}
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "a2a token created in the portal", "client_id", c.ID, "user", user)
	if err := p.setFlash(w, c.ID, user, flash{Kind: "token", Value: tok, Expires: exp}); err != nil {
		p.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, clientPath(c.ID), http.StatusSeeOther)
}

func (p *Portal) serveRevoke(w http.ResponseWriter, r *http.Request, user string, c store.Client) {
	sid := r.PathValue("sid")
	s, err := p.st.GetSession(r.Context(), sid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.ClientID != c.ID) {
		p.notFound(w, r, user)
		return
	}
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if err := p.revoker.RevokeSession(r.Context(), sid); err != nil {
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "session revoked in the portal", "client_id", c.ID, "user", user, "sid", sid)
	http.Redirect(w, r, clientPath(c.ID)+"?saved=revoked", http.StatusSeeOther)
}
