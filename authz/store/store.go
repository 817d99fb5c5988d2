// Package store is the gateway's state: clients, users, sessions (one per
// refresh-token family), refresh tokens, authorization codes, revocations,
// signing keys, subscriptions and metered usage.
//
// Store is one interface with an embedded SQLite implementation
// (store/sqlite) and room for a PostgreSQL one; both are held to the shared
// conformance suite in store/storetest.
//
// Secrets, refresh tokens and authorization codes are stored only as hashes
// (see authz/secret); the store compares and keeps opaque bytes. Private
// signing keys are sealed by the caller: the store keeps opaque bytes too.
//
// Times go in and come out in UTC with at least microsecond precision; a
// zero time.Time means "not set" (not revoked, not used, not retired).
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/usage"
)

// Errors returned by every implementation; test with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrConflict      = errors.New("already exists")
	ErrExpired       = errors.New("expired")
	ErrRevoked       = errors.New("revoked")
	ErrRefreshReused = errors.New("refresh token reused")
	ErrCodeReused    = errors.New("authorization code reused")
	// ErrUnavailable means the store could not be reached in time (a
	// shared database that went away): the request may succeed later.
	// Callers answer 503, never 500.
	ErrUnavailable = errors.New("store unavailable")
)

// NameTakenError is returned when a client id equals a user's name, or a
// user name a client's id. Client ids and user names are one namespace
// (an access token's sub is one or the other), compared case-insensitively
// because an upstream may fold case: ASCII letters, and the two non-ASCII
// letters whose case folds to ASCII ones (U+212A KELVIN SIGN to k, U+017F
// LONG S to s). errors.Is(err, ErrConflict) holds.
type NameTakenError struct {
	Name      string // the name being created
	TakenBy   string // "user" or "client"
	TakenName string // the existing user name or client id
}

func (e *NameTakenError) Error() string {
	return fmt.Sprintf("%q is taken by the %s %q: client ids and user names are one namespace, compared case-insensitively",
		e.Name, e.TakenBy, e.TakenName)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *NameTakenError) Is(target error) bool { return target == ErrConflict }

// FoldName is the key under which client ids and user names are compared
// (see NameTakenError): ASCII letters lower-cased, U+212A to "k" and U+017F
// to "s". Implementations compare FoldName of both sides, or an equivalent
// expression in the database.
func FoldName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'A' <= r && r <= 'Z':
			return r + ('a' - 'A')
		case r == '\u212a':
			return 'k'
		case r == '\u017f':
			return 's'
		}
		return r
	}, s)
}

// RefreshReusedError is returned by RotateRefresh when the presented token
// was already used. errors.Is(err, ErrRefreshReused) holds. By the time it is
// returned the store has already revoked the session (in the same
// transaction); SessionID names it so the caller can log it.
type RefreshReusedError struct {
	SessionID string
}

func (e *RefreshReusedError) Error() string {
	return "refresh token reused (session " + e.SessionID + " revoked)"
}

// Is makes errors.Is(err, ErrRefreshReused) hold.
func (e *RefreshReusedError) Is(target error) bool { return target == ErrRefreshReused }

// CodeReusedError is returned by ConsumeCode when the code was already used.
// errors.Is(err, ErrCodeReused) holds. The store has already revoked the
// code's session (Code.SessionID) and recorded a revocation for it, so a
// session created later under that id is refused with ErrRevoked.
type CodeReusedError struct {
	Code AuthCode
}

func (e *CodeReusedError) Error() string {
	return "authorization code reused (session " + e.Code.SessionID + " revoked)"
}

// Is makes errors.Is(err, ErrCodeReused) hold.
func (e *CodeReusedError) Is(target error) bool { return target == ErrCodeReused }

// Client is a registered OAuth client.
type Client struct {
	ID             string
	Name           string
	SecretHash     []byte // secret.HashSecret of the client secret; nil for a public client
	Grants         []string
	Scopes         []string
	RedirectURIs   []string
	AllowedOrigins []string
	FirstParty     bool
	Owner          string        // user name of the portal owner; "" for operator-made clients
	AccessTTL      time.Duration // 0: profile/tokens default
	RefreshTTL     time.Duration // 0: profile/tokens default
	CreatedAt      time.Time
	// PortalMade marks a client its owner registered in the developer
	// portal: its scopes are limited to the owner's entitlement at every
	// issuance (SPEC §10). Clients made by the operator (command line,
	// config file) are not, even when they name an owner.
	PortalMade bool
	// Plan names the client's plan (SPEC §11); "" for its owner's plan,
	// else the config's default_plan.
	Plan string
}

// User is a portal/login user.
type User struct {
	Name         string
	PasswordHash string // secret.HashPassword PHC string
	Admin        bool
	// Scopes are the scopes this user's portal clients may be given beyond
	// the config's portal.scopes (SPEC §10).
	Scopes []string
	// Plan names the plan of the user's clients that have none of their
	// own (SPEC §11); "" for the config's default_plan.
	Plan      string
	CreatedAt time.Time
}

// Session kinds. Kind is free text to the store; these are the ones the
// gateway uses.
const (
	KindRefresh  = "refresh" // a refresh-token family (code, password, admin grants)
	KindA2A      = "a2a"     // an application-to-application token
	KindImplicit = "implicit"
)

// Session is one refresh-token family, or one long-lived token that must be
// listable and revocable (a2a). Access tokens minted in it carry its ID as
// the "sid" claim.
//
// ExpiresAt must not be earlier than the expiry of any token minted in the
// session: revoking it records a revocation that lives until ExpiresAt.
// RotateRefresh extends it to cover the next refresh and access tokens.
type Session struct {
	ID        string
	ClientID  string
	Subject   string
	Scope     string // space-delimited
	Kind      string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero while active
	// Generation counts the session's refreshes: its access tokens carry
	// the generation they were minted in (claim "sgen"), and a rotation
	// moves the session to the next one and revokes every token below it
	// with one revocation per session (Revocation.Generation), not one per
	// rotated-out token. A session is created at FirstGeneration; 0 marks
	// a session of tokens without the claim (minted before generations
	// existed), whose rotated-out tokens are revoked by jti.
	Generation int64
}

// FirstGeneration is the Generation of a new session, and so the "sgen"
// of its first access token.
const FirstGeneration int64 = 1

// Active reports whether the session is neither revoked nor expired at now.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// RefreshToken is one refresh token of a session, stored by hash.
type RefreshToken struct {
	Hash      []byte // secret.HashSecret of the opaque token
	SessionID string // set by the store on RotateRefresh
	// AccessJTI and AccessExpiresAt name the access token issued together
	// with this refresh token: rotating the refresh token revokes it.
	AccessJTI       string
	AccessExpiresAt time.Time
	CreatedAt       time.Time
	ExpiresAt       time.Time
	UsedAt          time.Time // zero until rotated
}

// AuthCode is an authorization code, stored by hash. SessionID is chosen
// when the code is created: exchanging the code creates the session under
// that id, and replaying the code revokes it.
type AuthCode struct {
	Hash                []byte
	ClientID            string
	Subject             string
	RedirectURI         string
	Scope               string
	CodeChallenge       string
	CodeChallengeMethod string
	SessionID           string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	UsedAt              time.Time // zero until consumed
}

// Revocation is one revoked access token (JTI) or session (SessionID), or
// a cutoff: every token of the gateway's own issuer issued to a client
// (ClientID: its "client_id" claim) or for a user (Subject: its "sub") of
// an incarnation created at or before Cutoff is revoked. Deleting a client
// or a user records a cutoff, so a later client or user of the same name
// does not inherit the tokens. A cutoff never applies to tokens of trusted
// issuers: their "sub" is another tenant's.
//
// Which incarnation a token belongs to is told by the creation time it
// carries (claims client_created and user_created, Unix microseconds: the
// Client's or User's CreatedAt when it was minted): it is revoked when that
// time is at or before Cutoff. The store keeps the two apart exactly:
// a cutoff is never before the creation of what it deletes (CutoffAt), and
// a client or user created under a name is always created after every
// cutoff recorded for that name (CreatedAfter). A token without the claim
// (minted before the claims existed, or for a client whose CreatedAt is
// unknown) is revoked when its "iat" is at or before Cutoff rounded up to
// the second.
//
// A revocation with SessionID and Generation > 0 revokes only the tokens
// of that session whose "sgen" claim is below Generation (the tokens its
// rotations left behind); its ExpiresAt covers the latest of them. A
// session has at most one such revocation: each rotation replaces it.
// Generation 0 with SessionID revokes the whole session.
//
// Seq increases with every revocation recorded, and an implementation never
// makes a row visible after one with a higher Seq: pollers that remember the
// highest Seq they saw miss nothing.
type Revocation struct {
	Seq       int64
	JTI       string
	SessionID string
	ClientID  string
	Subject   string
	Cutoff    time.Time // with ClientID or Subject: tokens of incarnations created at or before it are revoked
	// Generation, with SessionID: the session's tokens with "sgen" below
	// it are revoked; 0: the whole session is.
	Generation int64
	ExpiresAt  time.Time // the revoked token(s) expire by then; the row may be pruned after
}

// CutoffAt is the Cutoff that deleting, at now, a client or user created
// at created records: now to the microsecond, or created when that is later
// (another instance's clock may run ahead). So the deleted incarnation's
// tokens are always covered, whatever the clocks, including one minted by a
// request that read the client or user before the deletion committed and
// signed after: it carries the deleted incarnation's creation time.
func CutoffAt(now, created time.Time) time.Time {
	cut := now.UTC().Truncate(time.Microsecond)
	if c := created.UTC().Truncate(time.Microsecond); c.After(cut) {
		cut = c
	}
	return cut
}

// CutoffSecond is cut rounded up to the second: a token without a creation
// claim is covered by a cutoff when its "iat" (whole seconds, truncated by
// the issuer) is at or before it, so that every token issued before the
// deletion, or a moment after by a request that had already read the
// client or user, is refused. A cutoff row lives from there for the longest
// token lifetime.
func CutoffSecond(cut time.Time) time.Time {
	t := cut.UTC().Truncate(time.Second)
	if t.Before(cut) {
		t = t.Add(time.Second)
	}
	return t
}

// CreatedAfter is the CreatedAt a client or user asked to be created at
// created gets when latestCutoff is the latest cutoff recorded for its name
// (as a client id or a subject; zero: none): created to the microsecond, or
// one microsecond after latestCutoff when created is not after it. A new
// client or user of a deleted one's name is thus never covered by the old
// cutoff, even when created in the same microsecond or on a clock behind.
// A zero created stays zero when there is no cutoff.
func CreatedAfter(created, latestCutoff time.Time) time.Time {
	c := created.UTC().Truncate(time.Microsecond)
	if created.IsZero() {
		c = time.Time{}
	}
	if !latestCutoff.IsZero() && !c.After(latestCutoff) {
		c = latestCutoff.UTC().Truncate(time.Microsecond).Add(time.Microsecond)
	}
	return c
}

// SigningKey is one token-signing key. PrivateSealed is encrypted by the
// caller; the store keeps it opaque.
type SigningKey struct {
	ID            string // kid
	Alg           string
	PublicJWK     []byte
	PrivateSealed []byte
	CreatedAt     time.Time
	RetiredAt     time.Time // zero while it signs
	DropAfter     time.Time // zero while it signs; after it the public key is unpublished
}

// Subscription is a user's subscription of one type ("fmsdata").
type Subscription struct {
	ID         int64 // assigned by AddSubscription
	User       string
	Type       string
	Name       string
	DateActive time.Time
	DateExpiry time.Time
}

// Active reports whether DateActive <= now <= DateExpiry.
func (s Subscription) Active(now time.Time) bool {
	return !now.Before(s.DateActive) && !now.After(s.DateExpiry)
}

// Clients manages registered clients.
type Clients interface {
	// CreateClient registers c; ErrConflict if the id is taken, by a
	// client or (*NameTakenError) by a user's name, checked in the same
	// transaction as the insert. The CreatedAt stored is
	// CreatedAfter(c.CreatedAt, the latest cutoff recorded for c.ID as a
	// client id or a subject), read in that transaction: GetClient returns
	// it.
	CreateClient(ctx context.Context, c Client) error
	// UpsertClient creates c or replaces every field of the client with
	// that id except CreatedAt (declarative clients from the config file);
	// *NameTakenError if a user has that name. A client it creates gets
	// its CreatedAt as CreateClient does.
	UpsertClient(ctx context.Context, c Client) error
	// GetClient returns the client or ErrNotFound.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns the clients owned by owner, or all when owner is
	// "", ordered by id.
	ListClients(ctx context.Context, owner string) ([]Client, error)
	// UpdateClient replaces every field except ID and CreatedAt;
	// ErrNotFound if there is no such client.
	UpdateClient(ctx context.Context, c Client) error
	// DeleteClient deletes the client with its sessions, refresh tokens and
	// codes, recording in the same transaction a revocation for each of its
	// active sessions and a client cutoff at CutoffAt(now, its CreatedAt),
	// so every token issued to or through the client is refused, its
	// client_credentials tokens included. The cutoff lives for maxTokenLifetime (the longest
	// an access token can live, leeway included; the client's own access
	// TTL when that is longer). ErrNotFound if there is no such client.
	DeleteClient(ctx context.Context, id string, now time.Time, maxTokenLifetime time.Duration) error
}

// Users manages portal/login users.
type Users interface {
	// CreateUser adds u; ErrConflict if the name is taken, by a user or
	// (*NameTakenError) by a client's id, checked in the same transaction
	// as the insert. The CreatedAt stored is CreatedAfter(u.CreatedAt, the
	// latest cutoff recorded for the name as a subject or a client id),
	// read in that transaction: GetUser returns it.
	CreateUser(ctx context.Context, u User) error
	// UpdateUser replaces every field except Name and CreatedAt;
	// ErrNotFound if there is no such user.
	UpdateUser(ctx context.Context, u User) error
	// GetUser returns the user or ErrNotFound.
	GetUser(ctx context.Context, name string) (User, error)
	// ListUsers returns every user ordered by name.
	ListUsers(ctx context.Context) ([]User, error)
	// DeleteUser deletes the user in one transaction with: the clients
	// they own (as DeleteClient does, cutoffs included), their
	// subscriptions, the authorization codes issued for them; every
	// active session whose subject they are, on any client, is revoked;
	// and a subject cutoff at CutoffAt(now, their CreatedAt) is recorded,
	// living for
	// maxTokenLifetime. ErrNotFound if there is no such user.
	DeleteUser(ctx context.Context, name string, now time.Time, maxTokenLifetime time.Duration) error
}

// Sessions manages sessions, refresh tokens and authorization codes.
type Sessions interface {
	// CreateSession stores s (its Generation as given: FirstGeneration
	// for a session whose tokens carry "sgen") and, when first is not nil,
	// its first refresh token, in one transaction (first.SessionID is set
	// to s.ID).
	// ErrConflict if the session id exists, ErrNotFound if the client does
	// not, ErrRevoked if the id was revoked before (a replayed code).
	CreateSession(ctx context.Context, s Session, first *RefreshToken) error
	// GetSession returns the session (active or not) or ErrNotFound.
	GetSession(ctx context.Context, id string) (Session, error)
	// ListSessions returns the client's active sessions at now, newest
	// first.
	ListSessions(ctx context.Context, clientID string, now time.Time) ([]Session, error)
	// CountActiveSessions counts sessions active at now.
	CountActiveSessions(ctx context.Context, now time.Time) (int64, error)
	// GetRefreshToken returns the refresh token with that hash (for
	// revoke/introspect) or ErrNotFound.
	GetRefreshToken(ctx context.Context, hash []byte) (RefreshToken, error)
	// RotateRefresh atomically marks the token oldHash used and stores
	// next in its session, which it returns (with ExpiresAt extended to
	// cover next, and Generation one higher: the generation of the access
	// token issued with next). The access token issued with the old one
	// is revoked: for a session of Generation > 0 by the session's one
	// generation revocation (SessionID, Generation: the new generation),
	// which replaces the session's previous one (a new Seq, the old row
	// gone), so the rows stay one per session however often it rotates;
	// for a session of Generation 0 by its AccessJTI. Errors: ErrNotFound (unknown token, or its session belongs
	// to another client: nothing changes), ErrRevoked (session revoked),
	// *RefreshReusedError (already used: the session is now revoked),
	// ErrExpired (token or session expired). Of concurrent rotations of one
	// token exactly one succeeds.
	RotateRefresh(ctx context.Context, clientID string, oldHash []byte, next RefreshToken, now time.Time) (Session, error)
	// CreateCode stores an authorization code; ErrConflict on a duplicate
	// hash, ErrNotFound if the client does not exist.
	CreateCode(ctx context.Context, c AuthCode) error
	// ConsumeCode marks the code used and returns it, when it was issued to
	// clientID (the authenticated client presenting it). Errors:
	// ErrNotFound (unknown code, or a code of another client: nothing
	// changes, whether that code is fresh, used or expired, so it stays
	// usable by its own client), *CodeReusedError (already used: its
	// session is now revoked), ErrExpired. The client check and the
	// consumption are one transaction. Of concurrent consumptions by its
	// client exactly one succeeds, and none by another client changes
	// anything.
	ConsumeCode(ctx context.Context, clientID string, hash []byte, now time.Time) (AuthCode, error)
}

// Revocations records revoked sessions and tokens.
type Revocations interface {
	// RevokeSession marks the session revoked at now, makes its refresh
	// tokens unusable and records a revocation. Revoking a revoked session
	// is a no-op; ErrNotFound if there is no such session.
	RevokeSession(ctx context.Context, id string, now time.Time) error
	// RevokeJTI records a revoked access token that expires at exp.
	// Revoking a revoked jti is a no-op.
	RevokeJTI(ctx context.Context, jti string, exp time.Time) error
	// RevocationsSince returns the revocations with Seq > seq, ordered by
	// Seq. Pass 0 for all of them.
	RevocationsSince(ctx context.Context, seq int64) ([]Revocation, error)
	// Prune deletes what can no longer matter at now: revocations past
	// their expiry, signing keys past DropAfter, and codes, refresh tokens
	// and sessions that expired (sessions: or were revoked) over a day ago
	// (the day keeps replays recognisable). Seq values are never reused.
	Prune(ctx context.Context, now time.Time) error
}

// SigningKeys manages token-signing keys.
type SigningKeys interface {
	// AddSigningKey stores k; ErrConflict on a duplicate kid.
	AddSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every key, oldest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// RetireSigningKey stops kid signing at retiredAt and unpublishes it
	// after dropAfter; ErrNotFound if there is no such key.
	RetireSigningKey(ctx context.Context, kid string, retiredAt, dropAfter time.Time) error
}

// Subscriptions manages users' subscriptions.
type Subscriptions interface {
	// AddSubscription stores s and returns it with its new ID.
	AddSubscription(ctx context.Context, s Subscription) (Subscription, error)
	// ListSubscriptions returns the user's subscriptions ordered by ID.
	ListSubscriptions(ctx context.Context, user string) ([]Subscription, error)
	// RemoveSubscription deletes one; ErrNotFound if there is no such id.
	RemoveSubscription(ctx context.Context, id int64) error
}

// UsageCount is the metered requests of one key on one UTC day. Key is a
// local client's id, or "ISSUER#CLIENT_ID" for a trusted issuer's client
// (local client ids cannot contain '#'). Day is midnight UTC.
type UsageCount = usage.Count

// UsageTotal is one key's metered requests on a day and in that day's
// calendar month (UTC), up to and including the day.
type UsageTotal = usage.Total

// Usage keeps the per-day request counts of metered clients. Every
// gateway instance adds its counts, so with a shared store the totals are
// the sum over instances.
type Usage interface {
	// AddUsage adds every count to its (Key, Day) total, all in one
	// transaction: all are added or none. A Day is truncated to its UTC
	// date; counts of zero or less are ignored.
	AddUsage(ctx context.Context, counts []UsageCount) error
	// UsageSince returns key's daily totals for days from from's UTC date
	// on, oldest first; days without requests are left out.
	UsageSince(ctx context.Context, key string, from time.Time) ([]UsageCount, error)
	// UsageTotals returns, for each of keys (every key with requests in
	// day's month when keys is nil), its totals on day's UTC date and in
	// its calendar month up to that date. Keys without requests are left
	// out.
	UsageTotals(ctx context.Context, keys []string, day time.Time) (map[string]UsageTotal, error)
}

// AdminKey is an admin API key (SPEC §12), stored only as the hash of
// the key (secret.HashSecret); the key itself is shown once, at creation.
type AdminKey struct {
	Name      string
	Hash      []byte
	CreatedAt time.Time
}

// AdminKeys keeps the admin API keys, shared by every instance.
type AdminKeys interface {
	// CreateAdminKey stores k; ErrConflict if a key has that name.
	CreateAdminKey(ctx context.Context, k AdminKey) error
	// ListAdminKeys returns every key ordered by name.
	ListAdminKeys(ctx context.Context) ([]AdminKey, error)
	// DeleteAdminKey deletes (revokes) the key of that name; ErrNotFound
	// if there is none.
	DeleteAdminKey(ctx context.Context, name string) error
}

// Change is one committed change that in-memory views depend on: the
// client (Kind ChangeClient, Key its id) was created, changed or deleted,
// or the user (ChangeUser, Key the name) was. A view reads the thing again
// (or finds it gone) and applies the difference, so following the store
// costs per change, not per row.
type Change struct {
	Seq  int64
	Kind string
	Key  string
}

// The kinds of Change.
const (
	ChangeClient = "client"
	ChangeUser   = "user"
)

// ErrChangesPruned is returned by ChangesSince when changes after the seq
// asked for are no longer kept: the caller loads its view whole again.
var ErrChangesPruned = errors.New("changes pruned: load the view again")

// ChangesKept is how many of the latest changes Prune keeps: a view that
// has fallen further behind loads whole again.
const ChangesKept = 100_000

// Changes is the change feed: every write that creates, changes or
// deletes a client or a user records a Change in the same transaction.
// Seq increases with every change, and an implementation never makes a
// change visible after one with a higher Seq: a follower that remembers
// the highest Seq it saw misses nothing.
type Changes interface {
	// ChangesSince returns the changes with Seq > seq, by Seq;
	// ErrChangesPruned when some of them have been pruned.
	ChangesSince(ctx context.Context, seq int64) ([]Change, error)
	// LatestChange returns the highest Seq recorded (0: none). A view
	// reads it before loading whole, then follows from there.
	LatestChange(ctx context.Context) (int64, error)
}

// Store is the whole state. Callers should declare the smaller interface
// they use (or one of the above).
type Store interface {
	AdminKeys
	Changes
	Clients
	Users
	Sessions
	Revocations
	SigningKeys
	Subscriptions
	Usage
	// Ping reports whether the store is reachable (/readyz).
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}
