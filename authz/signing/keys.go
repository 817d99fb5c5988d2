// Package signing holds the key-encryption key (KEK), the sealing of private
// signing keys with it, and the keyring that signs tokens and publishes the
// public keys. The issuer signs with the keyring, the portal derives its
// cookie key from the KEK, and the CLI loads and rotates keys.
package signing

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/authz/sigkey"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/periodic"
)

// KEKSize is the size of the key-encryption key that seals private signing
// keys (AES-256).
const KEKSize = 32

// ParseKEK decodes CLEARANCE_KEY_ENCRYPTION_KEY: 32 bytes in standard base64
// (the output of `openssl rand -base64 32`). Surrounding white space is
// ignored.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("key encryption key is empty: want 32 random bytes in standard base64 (openssl rand -base64 32)")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("key encryption key is not standard base64: want 32 random bytes in standard base64 (openssl rand -base64 32)")
	}
	if len(b) != KEKSize {
		return nil, fmt.Errorf("key encryption key is %d bytes: want %d (openssl rand -base64 32)", len(b), KEKSize)
	}
	return b, nil
}

// ErrWrongKEK means a sealed private key could not be opened: the key
// encryption key differs from the one it was sealed with (or the stored key
// is corrupt).
var ErrWrongKEK = errors.New("cannot decrypt the signing key: wrong CLEARANCE_KEY_ENCRYPTION_KEY, or the stored key is corrupt")

// sealVersion prefixes sealed keys so the format can change later.
const sealVersion = 1

// seal encrypts a PKCS #8 private key with AES-256-GCM, the kid as
// additional data: version || nonce || ciphertext.
func seal(kek []byte, kid string, plain []byte) ([]byte, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal signing key: %w", err)
	}
	return aead.Seal(out, out[1:], plain, []byte(kid)), nil
}

func unseal(kek []byte, kid string, sealed []byte) ([]byte, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("signing key %s: %w", kid, ErrWrongKEK)
	}
	nonce := sealed[1 : 1+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, sealed[1+aead.NonceSize():], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, ErrWrongKEK)
	}
	return plain, nil
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("key encryption key is %d bytes, want %d", len(kek), KEKSize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// signingAlg maps a configured algorithm name to jwx's; "" is RS256.
func signingAlg(name string) (jwa.SignatureAlgorithm, error) {
	if name == "" {
		return jwa.RS256, nil
	}
	if alg := jwa.SignatureAlgorithm(name); sigkey.CanSign(alg) {
		return alg, nil
	}
	return "", fmt.Errorf("unsupported signing algorithm %q (want %s)", name, sigkey.Either(sigkey.Signing()))
}

// generateKey makes a private key paired with alg by sigkey's table:
// RS256 → RSA-2048, ES256 → P-256, EdDSA → Ed25519.
func generateKey(alg jwa.SignatureAlgorithm) (crypto.Signer, error) {
	if a, ok := sigkey.Lookup(alg); ok && a.Signs {
		switch a.KeyType {
		case jwa.RSA:
			return rsa.GenerateKey(rand.Reader, sigkey.MinRSABits)
		case jwa.EC:
			return ecdsa.GenerateKey(a.Curve, rand.Reader)
		case jwa.OKP:
			_, k, err := ed25519.GenerateKey(rand.Reader)
			return k, err
		}
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
}

// checkPair refuses a key that does not belong to alg (jwx does not check
// the curve against the algorithm): its public half must pair with alg by
// sigkey's rule, and alg must be one the gateway signs with.
func checkPair(alg jwa.SignatureAlgorithm, k any) error {
	if s, ok := k.(crypto.Signer); ok && sigkey.CanSign(alg) && sigkey.Pairs(alg, s.Public()) == nil {
		return nil
	}
	return fmt.Errorf("key of type %T does not fit algorithm %s", k, alg)
}

// MaxTokenLifetime is the longest an access token minted under cfg can live,
// plus the leeway verifiers allow: how long a retired key stays published.
func MaxTokenLifetime(cfg *config.Config) time.Duration {
	d := max(cfg.Tokens.AccessTTL.D(), cfg.Tokens.A2ATTL.D())
	for _, c := range cfg.Clients {
		d = max(d, c.AccessTTL.D())
	}
	return d + cfg.Leeway.D()
}

// KeyStore is the part of the store the keyring uses.
type KeyStore interface {
	AddSigningKey(ctx context.Context, k store.SigningKey) error
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
	RetireSigningKey(ctx context.Context, kid string, retiredAt, dropAfter time.Time) error
}

// KeyringOptions configure a Keyring.
type KeyringOptions struct {
	// Alg is the algorithm of generated keys: RS256 (default), ES256, EdDSA.
	Alg string
	// KEK seals private keys in the store (KEKSize bytes, see ParseKEK).
	KEK []byte
	// Retain is how long a retired key stays published; see
	// MaxTokenLifetime.
	Retain time.Duration
	// Activation is how long a rotated-in key is published before it
	// signs (the old key signs meanwhile), so that every instance and every
	// JWKS cache has it before the first token it signs; 0: at once.
	Activation time.Duration
	// ReloadInterval is how often Run re-reads the store; 10s when 0.
	ReloadInterval time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
}

// KeyringOptionsFor fills Alg and Retain from cfg.
func KeyringOptionsFor(cfg *config.Config, kek []byte) KeyringOptions {
	return KeyringOptions{Alg: cfg.Tokens.Alg, KEK: kek, Retain: MaxTokenLifetime(cfg)}
}

// Keyring holds the gateway's signing keys: the newest key that is not
// retired signs, and every key not past its DropAfter is published.
type Keyring struct {
	st     KeyStore
	alg    jwa.SignatureAlgorithm
	kek    []byte
	retain time.Duration
	active time.Duration // Activation
	every  time.Duration
	now    func() time.Time
	log    *slog.Logger

	state atomic.Pointer[keyState]

	mu        sync.Mutex               // serialises Reload and Rotate; guards the fields below
	private   map[string]crypto.Signer // kid -> private key; only the signing one is kept
	listeners []func(jwk.Set)
}

// keyState is an immutable snapshot of the keys in force.
type keyState struct {
	// signer is the raw private key (*rsa.PrivateKey, *ecdsa.PrivateKey or
	// ed25519.PrivateKey); jws signs with it under alg.
	signer crypto.Signer
	jws    jws.Signer
	kid    string
	alg    jwa.SignatureAlgorithm
	// header is the encoded protected header of every token the key
	// signs, {"alg","kid","typ":"at+jwt"}, and the "." that follows it.
	header []byte
	public jwk.Set
	jwks   []byte
	kids   string // published kids, to notice changes
}

// NewKeyring loads the signing keys from st, generating the first one when
// there is none that signs. A KEK that cannot open the signing key is an
// error wrapping ErrWrongKEK.
func NewKeyring(ctx context.Context, st KeyStore, opts KeyringOptions) (*Keyring, error) {
	alg, err := signingAlg(opts.Alg)
	if err != nil {
		return nil, err
	}
	if len(opts.KEK) != KEKSize {
		return nil, fmt.Errorf("key encryption key is %d bytes, want %d", len(opts.KEK), KEKSize)
	}
	k := &Keyring{
		st: st, alg: alg, kek: opts.KEK, retain: opts.Retain, active: opts.Activation, every: opts.ReloadInterval,
		now: opts.Now, log: opts.Logger, private: make(map[string]crypto.Signer),
	}
	if k.every <= 0 {
		k.every = 10 * time.Second
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	if signing(keys, k.now(), k.active) == nil {
		k.log.InfoContext(ctx, "no signing key in the store: generating one", "alg", string(alg))
		if _, err := k.addLocked(ctx); err != nil {
			return nil, err
		}
	} else if cur := signing(keys, k.now(), k.active); cur.Alg != string(alg) {
		k.log.InfoContext(ctx, "configured signing algorithm differs from the current key: rotating",
			"kid", cur.ID, "key_alg", cur.Alg, "alg", string(alg))
		if err := k.rotateLocked(ctx); err != nil {
			return nil, err
		}
	}
	if err := k.reloadLocked(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// signing returns the key that signs at now, among the keys not retired by
// then: the newest one published for at least activation; when none has
// been published that long (a first key, or a rotation soon after one), the
// outgoing key (retiring later), else the oldest. nil when every key is
// retired. Keys are oldest first; creation times may tie.
func signing(keys []store.SigningKey, now time.Time, activation time.Duration) *store.SigningKey {
	var mature, outgoing, oldest *store.SigningKey
	for i := range keys {
		k := &keys[i]
		if !k.RetiredAt.IsZero() && !now.Before(k.RetiredAt) {
			continue
		}
		if oldest == nil {
			oldest = k
		}
		if !k.RetiredAt.IsZero() && (outgoing == nil || k.RetiredAt.After(outgoing.RetiredAt)) {
			outgoing = k
		}
		if !now.Before(k.CreatedAt.Add(activation)) && (mature == nil || !k.CreatedAt.Before(mature.CreatedAt)) {
			mature = k
		}
	}
	switch {
	case mature != nil:
		return mature
	case outgoing != nil:
		return outgoing
	}
	return oldest
}

// newKID names a key: its creation date and 64 random bits.
func newKID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102") + "-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// addLocked generates a key and stores it (sealed).
func (k *Keyring) addLocked(ctx context.Context) (string, error) {
	now := k.now().UTC()
	priv, err := generateKey(k.alg)
	if err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	kid := newKID(now)
	pk, err := privateJWK(priv, kid, k.alg)
	if err != nil {
		return "", err
	}
	pub, err := jwk.PublicKeyOf(pk)
	if err != nil {
		return "", fmt.Errorf("public signing key: %w", err)
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return "", fmt.Errorf("encode public signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encode signing key: %w", err)
	}
	sealed, err := seal(k.kek, kid, der)
	if err != nil {
		return "", err
	}
	sk := store.SigningKey{ID: kid, Alg: string(k.alg), PublicJWK: pubJSON, PrivateSealed: sealed, CreatedAt: now}
	if err := k.st.AddSigningKey(ctx, sk); err != nil {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	k.private[kid] = priv
	k.log.InfoContext(ctx, "signing key generated", "kid", kid, "alg", string(k.alg))
	return kid, nil
}

func privateJWK(priv any, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	if err := checkPair(alg, priv); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, err)
	}
	pk, err := jwk.FromRaw(priv)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, err)
	}
	if err := pk.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	if err := pk.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, err
	}
	if err := pk.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, err
	}
	return pk, nil
}

// Rotate generates a new signing key, published at once, which signs after
// Activation; the previous keys sign until then and are retired at that
// moment, staying published until every token they signed has expired
// (Activation + Retain from now).
func (k *Keyring) Rotate(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.rotateLocked(ctx); err != nil {
		return err
	}
	return k.reloadLocked(ctx)
}

func (k *Keyring) rotateLocked(ctx context.Context) error {
	keys, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	kid, err := k.addLocked(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	now := k.now().UTC()
	retire := now.Add(k.active)
	for _, old := range keys {
		if !old.RetiredAt.IsZero() && !old.RetiredAt.After(retire) {
			continue
		}
		if err := k.st.RetireSigningKey(ctx, old.ID, retire, retire.Add(k.retain)); err != nil {
			return fmt.Errorf("retire signing key %s: %w", old.ID, err)
		}
		k.log.InfoContext(ctx, "signing key retired", "kid", old.ID, "new_kid", kid,
			"signs_until", retire.Format(time.RFC3339), "published_until", retire.Add(k.retain).Format(time.RFC3339))
	}
	return nil
}

// Reload re-reads the keys from the store (another instance may have
// rotated them) and tells the OnChange listeners when the published set
// changed.
func (k *Keyring) Reload(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked(ctx)
}

func (k *Keyring) reloadLocked(ctx context.Context) error {
	keys, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	cur := signing(keys, k.now(), k.active)
	if cur == nil {
		return errors.New("load signing keys: no key signs (every key is retired)")
	}
	alg, err := signingAlg(cur.Alg)
	if err != nil {
		return fmt.Errorf("signing key %s: %w", cur.ID, err)
	}
	signer, ok := k.private[cur.ID]
	if !ok {
		der, err := unseal(k.kek, cur.ID, cur.PrivateSealed)
		if err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
		raw, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", cur.ID, err)
		}
		if err := checkPair(alg, raw); err != nil {
			return fmt.Errorf("signing key %s: %w", cur.ID, err)
		}
		signer = raw.(crypto.Signer) // every PKCS #8 key checkPair accepts is one
		k.private[cur.ID] = signer
	}

	now := k.now()
	public := jwk.NewSet()
	var kids []string
	for _, sk := range keys {
		if !sk.DropAfter.IsZero() && !now.Before(sk.DropAfter) {
			delete(k.private, sk.ID)
			continue
		}
		pub, err := jwk.ParseKey(sk.PublicJWK)
		if err != nil {
			return fmt.Errorf("public signing key %s: %w", sk.ID, err)
		}
		if pub.KeyID() != sk.ID {
			return fmt.Errorf("public signing key %s: kid %q does not match", sk.ID, pub.KeyID())
		}
		if err := public.AddKey(pub); err != nil {
			return fmt.Errorf("public signing key %s: %w", sk.ID, err)
		}
		kids = append(kids, sk.ID)
	}
	for kid := range k.private {
		if kid != cur.ID {
			delete(k.private, kid) // only the signing key's private half is needed
		}
	}
	jwks, err := json.Marshal(public)
	if err != nil {
		return fmt.Errorf("encode JWKS: %w", err)
	}
	header, err := encodeHeader(alg, cur.ID)
	if err != nil {
		return fmt.Errorf("signing key %s: %w", cur.ID, err)
	}
	js, err := jws.NewSigner(alg)
	if err != nil {
		return fmt.Errorf("signing key %s: %w", cur.ID, err)
	}
	st := &keyState{signer: signer, jws: js, kid: cur.ID, alg: alg, header: header, public: public,
		jwks: jwks, kids: cur.ID + "|" + strings.Join(kids, ",")}
	old := k.state.Swap(st)
	if old == nil || old.kids != st.kids {
		k.log.InfoContext(ctx, "signing keys loaded", "signing_kid", cur.ID, "published", kids)
		for _, f := range k.listeners {
			f(public)
		}
	}
	return nil
}

// OnChange registers f to receive the public key set whenever it changes
// (after Rotate, or a Reload that saw another instance's rotation). f is
// called once at once with the current set, and must not call back into
// the Keyring.
func (k *Keyring) OnChange(f func(jwk.Set)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.listeners = append(k.listeners, f)
	f(k.state.Load().public)
}

// PublicSet returns the published public keys. Do not modify it.
func (k *Keyring) PublicSet() jwk.Set { return k.state.Load().public }

// JWKS returns the published keys as JWKS JSON. Do not modify it.
func (k *Keyring) JWKS() []byte { return k.state.Load().jwks }

// SigningKeyID returns the kid of the key that signs now.
func (k *Keyring) SigningKeyID() string { return k.state.Load().kid }

// Algorithms returns the algorithms of the published keys.
func (k *Keyring) Algorithms() []string {
	var out []string
	st := k.state.Load()
	for i := range st.public.Len() {
		key, _ := st.public.Key(i)
		if a := key.Algorithm().String(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Sign signs tok with the current key: header {alg, kid, typ: at+jwt}.
// SignClaims does the same for claims already encoded.
func (k *Keyring) Sign(tok jwt.Token) ([]byte, error) {
	claims, err := json.Marshal(tok)
	if err != nil {
		return nil, fmt.Errorf("sign token: %w", err)
	}
	return k.SignClaims(claims)
}

// SignClaims signs claims, a JSON object, with the current key and
// returns the JWS compact serialization: header {alg, kid, typ: at+jwt}
// (as jwx writes it), the claims as given, the signature.
//
// The header is encoded once per key and the signature is jwx's signer
// for the key's algorithm: building a jwt.Token and signing it with
// jwt.Sign rebuilt the header, re-encoded the claims through reflection
// and converted the key for every token, a fifth of the cost of an ES256
// token.
func (k *Keyring) SignClaims(claims []byte) ([]byte, error) {
	st := k.state.Load()
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(st.header)+enc.EncodedLen(len(claims))+1+enc.EncodedLen(maxSignatureSize))
	out = append(out, st.header...)
	out = enc.AppendEncode(out, claims)
	sig, err := st.jws.Sign(out, st.signer)
	if err != nil {
		return nil, fmt.Errorf("sign token: %w", err)
	}
	out = append(out, '.')
	return enc.AppendEncode(out, sig), nil
}

// maxSignatureSize is the largest signature of the keys made here: RSA-4096.
const maxSignatureSize = 512

// encodeHeader is the encoded protected header of the tokens kid signs,
// with the "." that ends it.
func encodeHeader(alg jwa.SignatureAlgorithm, kid string) ([]byte, error) {
	h := jws.NewHeaders()
	for _, f := range []struct {
		name  string
		value any
	}{{jws.AlgorithmKey, alg}, {jws.KeyIDKey, kid}, {jws.TypeKey, "at+jwt"}} {
		if err := h.Set(f.name, f.value); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return append(base64.RawURLEncoding.AppendEncode(nil, b), '.'), nil
}

// Run reloads the keys every ReloadInterval until ctx is done.
func (k *Keyring) Run(ctx context.Context) {
	periodic.Every(ctx, k.every, k.Reload, func(err error) {
		k.log.ErrorContext(ctx, "reload signing keys", "error", err)
	})
}
