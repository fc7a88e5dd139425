//! Tokens (RFC 6749 §5.1), token types (§7.1), scopes (§3.3) and the bearer header (RFC 6750 §2.1).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use oauth_core::oauth2::{Token, TokenType};
//! use oauth_core::secret::AccessToken;
//!
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let token = Token::new(AccessToken::new("mF_9.B5f-4.1JqM"), TokenType::Bearer)
//!     .with_expires_at(Some(now + Duration::from_secs(3600)));
//! assert_eq!(token.authorization_header_value().unwrap(), "Bearer mF_9.B5f-4.1JqM");
//! assert!(!format!("{token:?}").contains("mF_9"));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::dpop::DpopKey;
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// The longest lifetime the library believes: `expires_in` values above it (about 68 years,
/// the bound golang/oauth2 uses) are clamped, so expiry arithmetic can never overflow.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(i32::MAX as u64);

/// An access token type (RFC 6749 §7.1, §11.1), compared case-insensitively.
///
/// Unknown types are kept as [`TokenType::Other`], but such a token is never sent as `Bearer`
/// ([`Token::authorization_header_value`] returns [`TokenUseError::UnsupportedTokenType`]).
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449 §5): needs a proof on every request, so no plain header is built here.
    DPoP,
    /// Any other type, as received (e.g. `mac`, or `N_A` from RFC 8693 token exchange).
    Other(String),
}

impl TokenType {
    /// Parses a `token_type` value, case-insensitively.
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("bearer") {
            Self::Bearer
        } else if s.eq_ignore_ascii_case("dpop") {
            Self::DPoP
        } else {
            Self::Other(s.to_owned())
        }
    }

    /// The canonical spelling (`Bearer`, `DPoP`) or the value as received.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Bearer => "Bearer",
            Self::DPoP => "DPoP",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Debug for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(s) => write!(f, "Other({:?})", truncate(s, 64)),
            _ => f.write_str(self.as_str()),
        }
    }
}

impl serde::Serialize for TokenType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for TokenType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// A scope (RFC 6749 §3.3): a set of space-delimited, case-sensitive scope tokens, kept in the
/// order first seen, without duplicates. Two scopes are equal when they hold the same tokens,
/// in any order (`"read write"` equals `"write read"`), as RFC 6749 §3.3 says order does not
/// matter; [`Display`](fmt::Display) keeps the order first seen.
#[derive(Clone, Default)]
pub struct Scope(Vec<String>);

impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        // Neither holds a token twice: as many tokens, all in the other, is the same set.
        self.len() == other.len() && self.is_subset_of(other)
    }
}

impl Eq for Scope {}

/// Hashes the tokens as a sorted set, so equal scopes hash alike whatever their order.
impl std::hash::Hash for Scope {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let set = self.to_set();
        set.len().hash(state);
        for token in set {
            token.hash(state);
        }
    }
}

/// A scope token contains characters RFC 6749 §3.3 does not allow (space, `"`, `\`, control or
/// non-ASCII characters), or is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope token (RFC 6749 §3.3 allows printable ASCII except space, '\"' and '\\')")]
#[non_exhaustive]
pub struct InvalidScope;

impl Scope {
    /// Splits a space-delimited scope string; empty tokens (repeated spaces) are skipped.
    pub fn parse(s: &str) -> Self {
        Self::collect(s.split(' '))
    }

    /// Builds a scope from tokens, each checked against RFC 6749 §3.3 `scope-token`.
    ///
    /// # Errors
    ///
    /// Fails with [`InvalidScope`] for an empty token or one with a character `scope-token` does
    /// not allow (space, `"`, `\`, a control or non-ASCII character).
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut scope = Self::default();
        for token in tokens {
            let token = token.into();
            let valid = !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !valid {
                return Err(InvalidScope);
            }
            scope.push(token);
        }
        Ok(scope)
    }

    pub(crate) fn collect<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Self {
        let mut scope = Self::default();
        for token in tokens.into_iter().filter(|t| !t.is_empty()) {
            scope.push(token.to_owned());
        }
        scope
    }

    fn push(&mut self, token: String) {
        if !self.0.contains(&token) {
            self.0.push(token);
        }
    }

    /// The scope tokens, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether the scope holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// Whether every token of `self` is also in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// Whether the scope holds no token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of scope tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The tokens as a sorted set.
    pub fn to_set(&self) -> BTreeSet<&str> {
        self.iter().collect()
    }
}

/// The space-delimited form sent on the wire.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Scope").field(&self.to_string()).finish()
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// A token can not be put in an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenUseError {
    /// The token type is not `Bearer` (RFC 6749 §7.1: a client MUST NOT use a token type it does
    /// not understand). DPoP tokens need a proof and are handled by the DPoP layer.
    #[error("token type {token_type:?} cannot be sent as a Bearer token")]
    UnsupportedTokenType {
        /// The token type, truncated to 64 characters.
        token_type: String,
    },
    /// The access token is not an RFC 6750 §2.1 `b64token` (it has a space, CR/LF, `,`, a
    /// non-ASCII character…); building a header from it could inject another header.
    #[error("the access token is not a valid RFC 6750 b64token")]
    InvalidTokenSyntax,
}

/// Checks RFC 6750 §2.1 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Whether a request URI's query already carries a bearer token: an `access_token` parameter
/// (RFC 6750 §2.3), its name read as a server decodes it (`access%5Ftoken` too). A client must
/// not send a token by more than one method in a request (RFC 6750 §2).
///
/// ```
/// use oauth_core::oauth2::query_has_access_token;
///
/// assert!(query_has_access_token("a=1&access_token=mF_9.B5f-4.1JqM"));
/// assert!(query_has_access_token("access%5Ftoken=x"));
/// assert!(!query_has_access_token("q=access_token&my_access_token=x"));
/// ```
pub fn query_has_access_token(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "access_token")
}

/// An OAuth 2 token as issued by a token endpoint (RFC 6749 §5.1), with the relative
/// `expires_in` turned into an absolute expiry from the time given to the parser
/// ([`parse_token_response`](super::parse_token_response)'s `now`; tower-oauth2's grant
/// client gives the moment the request was sent, which the server's count starts after).
///
/// `Debug` never prints a credential: the secrets are redacted and only the number of
/// [`Token::extra`] members is shown. `Serialize`/`Deserialize` give the persisted form, with
/// `expires_at` in Unix seconds; serialising a token is an explicit act that writes the secrets.
/// A token response stored as it came (with the relative `expires_in` and no `expires_at`, as
/// oauth2-rs's `StandardTokenResponse` serialises) loads as expired, since when its lifetime
/// started is not known: a token source then refreshes it before its first use.
#[derive(Clone, PartialEq)]
pub struct Token {
    pub(crate) access_token: AccessToken,
    pub(crate) token_type: TokenType,
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) refresh_token: Option<RefreshToken>,
    pub(crate) scope: Option<Scope>,
    pub(crate) id_token: Option<IdToken>,
    pub(crate) dpop_jkt: Option<String>,
    pub(crate) issued_to: Option<IssuedTo>,
    pub(crate) extra: Map<String, Value>,
}

/// Where a token came from: the token endpoint that issued it and the client it was issued
/// to. A refresh token is confidential between the two (RFC 6749 §10.4), so a token recorded
/// as issued elsewhere (a token file shared by two configurations, say) is never refreshed, or
/// used, with another server or client. Persisted with the token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct IssuedTo {
    /// The token endpoint URL, as configured.
    pub token_endpoint: String,
    /// The client identifier.
    pub client_id: String,
}

impl IssuedTo {
    /// The token endpoint `token_endpoint` and the client `client_id`.
    pub fn new(token_endpoint: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            token_endpoint: token_endpoint.into(),
            client_id: client_id.into(),
        }
    }

    /// Whether `other` is the same client at the same token endpoint: the client identifiers
    /// are equal, and so are the endpoint URLs up to the case of the scheme and host and an
    /// explicit default port (RFC 3986 §6.2.2.1, §6.2.3), so that writing the endpoint
    /// `https://AS.example.com:443/token` in one configuration and `https://as.example.com/token`
    /// in another does not make a stored token look foreign. Paths and queries compare exactly.
    ///
    /// ```
    /// use oauth_core::oauth2::IssuedTo;
    ///
    /// let here = IssuedTo::new("https://as.example.com/token", "app");
    /// assert!(here.is_same_as(&IssuedTo::new("HTTPS://AS.example.com:443/token", "app")));
    /// assert!(!here.is_same_as(&IssuedTo::new("https://as.example.com/Token", "app")));
    /// assert!(!here.is_same_as(&IssuedTo::new("https://as.example.com:8443/token", "app")));
    /// assert!(!here.is_same_as(&IssuedTo::new("https://as.example.com/token", "other")));
    /// ```
    pub fn is_same_as(&self, other: &IssuedTo) -> bool {
        self.client_id == other.client_id
            && (self.token_endpoint == other.token_endpoint
                || same_endpoint(&self.token_endpoint, &other.token_endpoint))
    }
}

/// `a` and `b` are the same absolute `http(s)` URL up to the case of the scheme and host and a
/// default port; `false` when either is not one.
fn same_endpoint(a: &str, b: &str) -> bool {
    fn parts(url: &str) -> Option<(String, String, u16, String)> {
        let uri: http::Uri = url.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        Some((
            scheme,
            authority.host().to_ascii_lowercase(),
            authority.port_u16().unwrap_or(default_port),
            path,
        ))
    }
    matches!((parts(a), parts(b)), (Some(a), Some(b)) if a == b)
}

impl Token {
    /// A token with no expiry, refresh token, scope or extra members.
    #[must_use]
    pub fn new(access_token: AccessToken, token_type: TokenType) -> Self {
        Self {
            access_token,
            token_type,
            expires_at: None,
            refresh_token: None,
            scope: None,
            id_token: None,
            dpop_jkt: None,
            issued_to: None,
            extra: Map::new(),
        }
    }

    /// Sets the absolute expiry.
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: Option<SystemTime>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Sets the refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: Option<RefreshToken>) -> Self {
        self.refresh_token = refresh_token;
        self
    }

    /// Sets the granted scope.
    #[must_use]
    pub fn with_scope(mut self, scope: Option<Scope>) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the OpenID Connect ID token.
    #[must_use]
    pub fn with_id_token(mut self, id_token: Option<IdToken>) -> Self {
        self.id_token = id_token;
        self
    }

    /// Records the JWK thumbprint (RFC 7638) of the DPoP key the token is bound to (RFC 9449),
    /// so that it is never used or refreshed with another key. The grant client sets it when it
    /// receives a DPoP token; it is persisted with the token.
    #[must_use]
    pub fn with_dpop_jkt(mut self, jkt: Option<String>) -> Self {
        self.dpop_jkt = jkt;
        self
    }

    /// The thumbprint of the DPoP key this token is bound to, when known
    /// ([`with_dpop_jkt`](Self::with_dpop_jkt)).
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// Records the token endpoint and client the token was issued to. tower-oauth2's grant
    /// client sets it on every token it receives; a token without it (from elsewhere, or saved
    /// by an older version) is taken to belong to whichever client uses it.
    #[must_use]
    pub fn with_issued_to(mut self, issued_to: Option<IssuedTo>) -> Self {
        self.issued_to = issued_to;
        self
    }

    /// The token endpoint and client the token was issued to, when known
    /// ([`with_issued_to`](Self::with_issued_to)).
    pub fn issued_to(&self) -> Option<&IssuedTo> {
        self.issued_to.as_ref()
    }

    /// Whether the token is recorded as issued by another token endpoint or to another client
    /// than `here` ([`IssuedTo::is_same_as`]): then it must not be used or refreshed there
    /// (RFC 6749 §10.4). A token with no record is not.
    pub fn issued_elsewhere(&self, here: &IssuedTo) -> bool {
        self.issued_to
            .as_ref()
            .is_some_and(|issued| !issued.is_same_as(here))
    }

    /// Whether a client whose tokens are issued `here` (when it knows) and bound to the DPoP
    /// key `dpop` (when it has one) may use this token, from a store shared with other
    /// configurations say: it is not recorded as issued by another token endpoint or to another
    /// client (RFC 6749 §10.4), nor as bound to another key than `dpop`; and, for a client with
    /// no key, it is neither bound to a key nor a DPoP token at all (no proof can be made for
    /// it, RFC 9449 §7.1).
    ///
    /// ```
    /// use oauth_core::oauth2::{IssuedTo, Token, TokenType};
    /// use oauth_core::secret::AccessToken;
    ///
    /// let here = IssuedTo::new("https://server.example.com/token", "my-app");
    /// let other = IssuedTo::new("https://server.example.com/token", "other-app");
    /// let token = Token::new(AccessToken::new("t"), TokenType::Bearer);
    /// assert!(token.usable_by(Some(&here), None));
    /// assert!(!token.clone().with_issued_to(Some(other)).usable_by(Some(&here), None));
    /// assert!(!Token::new(AccessToken::new("t"), TokenType::DPoP).usable_by(None, None));
    /// ```
    pub fn usable_by(&self, here: Option<&IssuedTo>, dpop: Option<&DpopKey>) -> bool {
        let bound_elsewhere = match dpop {
            Some(key) => self.dpop_jkt().is_some() && key.check_binding(self).is_err(),
            None => self.dpop_jkt().is_some() || self.token_type == TokenType::DPoP,
        };
        !here.is_some_and(|here| self.issued_elsewhere(here)) && !bound_elsewhere
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The token type.
    pub fn token_type(&self) -> &TokenType {
        &self.token_type
    }

    /// When the access token expires, if the server said (`expires_in` from the time the
    /// token was parsed with).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The refresh token, if one was issued.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// The granted scope, if the server returned one (RFC 6749 §5.1: when absent, it equals the
    /// requested scope).
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// The OpenID Connect ID token, unvalidated.
    pub fn id_token(&self) -> Option<&IdToken> {
        self.id_token.as_ref()
    }

    /// Response members this library does not know, kept as received (RFC 6749 §5.1). They may
    /// hold provider-specific secrets: treat them as sensitive.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// Whether the token has expired at `now` (`false` when the expiry is unknown).
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// The `Authorization` header value, `Bearer <token>` (RFC 6750 §2.1).
    ///
    /// # Errors
    ///
    /// Fails with [`TokenUseError::UnsupportedTokenType`] when the token type is not `Bearer`, and
    /// [`TokenUseError::InvalidTokenSyntax`] when the access token is not an RFC 6750 `b64token`.
    ///
    /// # Security
    ///
    /// The string holds the live credential: put it in an `http::HeaderValue` marked sensitive
    /// (or use [`Token::authorization_header`]), never in a log.
    pub fn authorization_header_value(&self) -> Result<String, TokenUseError> {
        self.credentials(TokenType::Bearer)
    }

    /// The `Authorization: Bearer <token>` value as a sensitive [`http::HeaderValue`].
    ///
    /// # Errors
    ///
    /// Fails as [`Token::authorization_header_value`] does.
    pub fn authorization_header(&self) -> Result<http::HeaderValue, TokenUseError> {
        sensitive_header(&self.credentials(TokenType::Bearer)?)
    }

    /// The `Authorization: DPoP <token>` value (RFC 9449 §7.1) of a DPoP token, as a sensitive
    /// [`http::HeaderValue`]. It must go out with a proof for the same request
    /// ([`DpopKey::proof`](super::DpopKey::proof) with this access token); a token of any other
    /// type is refused, as is a Bearer token (never sent under the DPoP scheme).
    ///
    /// # Errors
    ///
    /// Fails with [`TokenUseError::UnsupportedTokenType`] for a token that is not a DPoP token, and
    /// [`TokenUseError::InvalidTokenSyntax`] for an access token that cannot go in the header.
    pub fn dpop_authorization_header(&self) -> Result<http::HeaderValue, TokenUseError> {
        sensitive_header(&self.credentials(TokenType::DPoP)?)
    }

    /// `<scheme> <token>` for a token of type `scheme` whose value is an RFC 6750 `b64token`
    /// (the `token68` syntax RFC 9449 §7.1 uses too).
    fn credentials(&self, scheme: TokenType) -> Result<String, TokenUseError> {
        if self.token_type != scheme {
            return Err(TokenUseError::UnsupportedTokenType {
                token_type: truncate(self.token_type.as_str(), 64).to_owned(),
            });
        }
        let secret = self.access_token.secret();
        if !is_b64token(secret) {
            return Err(TokenUseError::InvalidTokenSyntax);
        }
        Ok(format!("{} {secret}", scheme.as_str()))
    }
}

fn sensitive_header(value: &str) -> Result<http::HeaderValue, TokenUseError> {
    let mut header =
        http::HeaderValue::from_str(value).map_err(|_| TokenUseError::InvalidTokenSyntax)?;
    header.set_sensitive(true);
    Ok(header)
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at.map(unix_or_zero))
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token)
            .field("dpop_jkt", &self.dpop_jkt)
            .field("issued_to", &self.issued_to)
            .field("extra_members", &self.extra.len())
            .finish()
    }
}

/// The persisted form of a [`Token`].
#[derive(serde::Serialize, serde::Deserialize)]
struct PersistedToken {
    access_token: AccessToken,
    token_type: TokenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<IdToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_jkt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued_to: Option<IssuedTo>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    extra: Map<String, Value>,
    /// Never written; read only to notice a token response stored as it came (see
    /// `Deserialize for Token`).
    #[serde(default, skip_serializing)]
    expires_in: Option<serde::de::IgnoredAny>,
}

impl serde::Serialize for Token {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PersistedToken {
            access_token: self.access_token.clone(),
            token_type: self.token_type.clone(),
            expires_at: self.expires_at.map(unix_or_zero),
            refresh_token: self.refresh_token.clone(),
            scope: self.scope.clone(),
            id_token: self.id_token.clone(),
            dpop_jkt: self.dpop_jkt.clone(),
            issued_to: self.issued_to.clone(),
            extra: self.extra.clone(),
            expires_in: None,
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = PersistedToken::deserialize(d)?;
        // A far-future value is clamped to the end of year 9999, which every platform's
        // SystemTime holds, so a later stored expiry never loads as an earlier one.
        let expires_at = match (p.expires_at, &p.expires_in) {
            (Some(secs), _) => {
                Some(UNIX_EPOCH + Duration::from_secs(secs.min(LATEST_PERSISTED_EXPIRY)))
            }
            // A token response stored as it came (oauth2-rs's `StandardTokenResponse`
            // serialises so): its `expires_in` counts from a moment nobody recorded. Dropping
            // it would make the token look as if it never expired; it loads as expired
            // instead (the safe side), so a source refreshes it before its first use.
            (None, Some(_)) => Some(UNIX_EPOCH),
            (None, None) => None,
        };
        Ok(Self {
            access_token: p.access_token,
            token_type: p.token_type,
            expires_at,
            refresh_token: p.refresh_token,
            scope: p.scope,
            id_token: p.id_token,
            dpop_jkt: p.dpop_jkt,
            issued_to: p.issued_to,
            extra: p.extra,
        })
    }
}

/// The latest `expires_at` a persisted token loads with (9999-12-31T23:59:59Z, in Unix seconds).
const LATEST_PERSISTED_EXPIRY: u64 = 253_402_300_799;

/// `now + lifetime`, with the lifetime clamped to [`MAX_EXPIRES_IN`]; if even that overflows the
/// platform's `SystemTime`, the token is treated as expired at `now` (the safe side).
pub fn expires_at(now: SystemTime, lifetime: Duration) -> SystemTime {
    now.checked_add(lifetime.min(MAX_EXPIRES_IN)).unwrap_or(now)
}

fn unix_or_zero(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// At most `max` characters of `s`.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_expired`: from the expiry instant on, and never when the expiry is unknown.
    #[test]
    fn is_expired_from_the_expiry_on_and_never_without_one() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = |at: Option<SystemTime>| {
            Token::new(AccessToken::new("a"), TokenType::Bearer).with_expires_at(at)
        };
        assert!(!token(Some(now + Duration::from_secs(1))).is_expired(now));
        assert!(token(Some(now)).is_expired(now));
        assert!(token(Some(now - Duration::from_secs(1))).is_expired(now));
        assert!(!token(None).is_expired(now));
    }

    #[test]
    fn token_type_is_case_insensitive() {
        assert_eq!(TokenType::parse("BEARER"), TokenType::Bearer);
        assert_eq!(TokenType::parse("bearer"), TokenType::Bearer);
        assert_eq!(TokenType::parse("dpop"), TokenType::DPoP);
        assert_eq!(TokenType::parse("mac"), TokenType::Other("mac".into()));
    }

    /// `Debug` names the type (it shows in a token's `Debug`); an unknown type is the server's
    /// text, so it is quoted and cut at 64 characters, as `TokenUseError` cuts it.
    #[test]
    fn token_type_debug_names_the_type_and_bounds_an_unknown_one() {
        assert_eq!(format!("{:?}", TokenType::Bearer), "Bearer");
        assert_eq!(format!("{:?}", TokenType::DPoP), "DPoP");
        assert_eq!(
            format!("{:?}", TokenType::Other("N_A\n".into())),
            r#"Other("N_A\n")"#
        );
        let long = TokenType::Other("é".repeat(1000));
        assert_eq!(format!("{long:?}"), format!("Other({:?})", "é".repeat(64)));
        let token = Token::new(AccessToken::new("a"), TokenType::Other("mac".into()));
        assert!(
            format!("{token:?}").contains(r#"token_type: Other("mac")"#),
            "{token:?}"
        );
    }

    #[test]
    fn b64token_syntax() {
        for ok in ["mF_9.B5f-4.1JqM", "abc==", "a+/~", "2YotnFZFEjr1zCsicMWpAA"] {
            assert!(is_b64token(ok), "{ok}");
        }
        for bad in [
            "",
            "=",
            "a b",
            "a\r\nX-Evil: 1",
            "a,b",
            "é",
            "a=b",
            "a\"",
            "a\0",
        ] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
    }

    #[test]
    fn header_refuses_unknown_types_and_bad_syntax() {
        let t = Token::new(AccessToken::new("abc"), TokenType::Other("mac".into()));
        assert!(matches!(
            t.authorization_header_value(),
            Err(TokenUseError::UnsupportedTokenType { .. })
        ));
        let t = Token::new(AccessToken::new("abc"), TokenType::DPoP);
        assert!(t.authorization_header().is_err());
        let t = Token::new(AccessToken::new("a\r\nX: y"), TokenType::Bearer);
        assert_eq!(
            t.authorization_header_value(),
            Err(TokenUseError::InvalidTokenSyntax)
        );
        let t = Token::new(AccessToken::new("abc"), TokenType::Bearer);
        let h = t.authorization_header().unwrap();
        assert!(h.is_sensitive());
        assert_eq!(h, "Bearer abc");
    }

    #[test]
    fn scope_parsing_and_subset() {
        let s = Scope::parse("read  write read");
        assert_eq!(s.to_string(), "read write");
        assert_eq!(s.len(), 2);
        assert!(Scope::parse("read").is_subset_of(&s));
        assert!(!s.is_subset_of(&Scope::parse("read")));
        assert!(Scope::from_tokens(["a b"]).is_err());
        assert!(Scope::from_tokens([""]).is_err());
        assert!(Scope::from_tokens(["a\"b"]).is_err());
        assert!(Scope::from_tokens(["openid", "https://graph.example/.default"]).is_ok());
    }

    /// RFC 6749 §3.3: scope tokens are case-sensitive; the scope answers for exactly the
    /// tokens it holds, in the order first seen, and an empty string is no scope token.
    #[test]
    fn scope_holds_exactly_its_tokens() {
        let s = Scope::parse("read write read");
        assert!(s.contains("read") && s.contains("write"));
        assert!(!s.contains("Read") && !s.contains("admin") && !s.contains(""));
        assert_eq!(s.iter().collect::<Vec<_>>(), ["read", "write"]);
        assert_eq!(
            Scope::parse("b a").to_set().into_iter().collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(!s.is_empty());
        for empty in ["", "   "] {
            let e = Scope::parse(empty);
            assert!(e.is_empty(), "{empty:?}");
            assert_eq!(e.len(), 0);
            assert_eq!(e.iter().count(), 0);
            assert!(e.to_set().is_empty());
        }
        assert_eq!(format!("{s:?}"), r#"Scope("read write")"#);
    }

    #[test]
    fn expiry_arithmetic_clamps() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(expires_at(now, Duration::MAX), now + MAX_EXPIRES_IN);
        assert_eq!(
            expires_at(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
    }

    #[test]
    fn persistence_round_trips_with_absolute_expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = Token::new(AccessToken::new("a"), TokenType::Bearer)
            .with_expires_at(Some(now))
            .with_refresh_token(Some(RefreshToken::new("r")))
            .with_scope(Some(Scope::parse("x y")));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"access_token":"a","token_type":"Bearer","expires_at":1700000000,"refresh_token":"r","scope":"x y"}"#
        );
        let back: Token = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        let far: Token = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","expires_at":18446744073709551615}"#,
        )
        .unwrap();
        assert!(far.expires_at().is_some());
    }

    /// `is_same_as` knows the default port of `http` (80) as it knows that of `https` (RFC 3986
    /// §6.2.3), and never takes one scheme, or its port, for the other.
    #[test]
    fn an_http_endpoint_is_the_same_with_its_default_port() {
        let app = |url: &str| IssuedTo::new(url, "app");
        let here = app("http://as.example.com/token");
        assert!(here.is_same_as(&app("HTTP://AS.example.com:80/token")));
        assert!(app("http://as.example.com:80/token").is_same_as(&here));
        assert!(!here.is_same_as(&app("http://as.example.com:443/token")));
        assert!(!here.is_same_as(&app("https://as.example.com/token")));
        assert!(
            !app("https://as.example.com/token")
                .is_same_as(&app("https://as.example.com:80/token"))
        );
    }

    #[test]
    fn where_a_token_was_issued_is_persisted_and_optional() {
        let t = Token::new(AccessToken::new("a"), TokenType::Bearer).with_issued_to(Some(
            IssuedTo::new("https://as.example.com/token", "client-1"),
        ));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"access_token":"a","token_type":"Bearer","issued_to":{"token_endpoint":"https://as.example.com/token","client_id":"client-1"}}"#
        );
        let back: Token = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert_eq!(
            back.issued_to(),
            Some(&IssuedTo::new("https://as.example.com/token", "client-1"))
        );
        // A file from before: no record.
        let old: Token =
            serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer"}"#).unwrap();
        assert_eq!(old.issued_to(), None);
    }

    /// A token response stored as it came (oauth2-rs's `StandardTokenResponse` JSON: a
    /// relative `expires_in`, lower-case `bearer`) loads as expired, not as a token that never
    /// expires; with an `expires_at` too, that one counts. What it writes back has only
    /// `expires_at`.
    #[test]
    fn a_stored_token_response_with_expires_in_loads_as_expired() {
        let stored: Token = serde_json::from_str(
            r#"{"access_token":"a","token_type":"bearer","expires_in":3600,"refresh_token":"r","scope":"read"}"#,
        )
        .unwrap();
        assert_eq!(stored.expires_at(), Some(UNIX_EPOCH));
        assert_eq!(stored.refresh_token().map(|r| r.secret()), Some("r"));
        let json = serde_json::to_string(&stored).unwrap();
        assert!(json.contains(r#""expires_at":0"#), "{json}");
        assert!(!json.contains("expires_in"), "{json}");

        let both: Token = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","expires_at":2000000000,"expires_in":3600}"#,
        )
        .unwrap();
        assert_eq!(
            both.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))
        );
        let neither: Token =
            serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer"}"#).unwrap();
        assert_eq!(neither.expires_at(), None);
    }

    /// A scope is a set (RFC 6749 §3.3): equal, and hashed alike, in any order; different
    /// tokens, or one more, are not equal; the order first seen is what it prints.
    #[test]
    fn scopes_compare_and_hash_as_sets() {
        use std::collections::HashSet;

        let a = Scope::parse("read write");
        let b = Scope::parse("write  read read");
        assert_eq!(a, b);
        assert_eq!(b.to_string(), "write read");
        assert_ne!(a, Scope::parse("read"));
        assert_ne!(a, Scope::parse("read write admin"));
        assert_ne!(a, Scope::parse("read Write"));
        assert_eq!(Scope::parse(""), Scope::default());
        let set: HashSet<Scope> = [a.clone(), b, Scope::parse("read")].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert!(set.contains(&Scope::parse("write read")));
    }

    /// Different scopes hash apart (with the standard library's fixed-key hasher), so a map
    /// keyed by scope does not put every scope in one bucket. (Mutant: `Hash for Scope` hashing
    /// nothing, which still hashed equal scopes alike.)
    #[test]
    fn different_scopes_hash_apart() {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

        let hash = |scope: &str| {
            BuildHasherDefault::<DefaultHasher>::default().hash_one(Scope::parse(scope))
        };
        assert_eq!(hash("read write"), hash("write read"));
        for (a, b) in [("read", "write"), ("read", "read write"), ("", "read")] {
            assert_ne!(hash(a), hash(b), "{a:?} {b:?}");
        }
    }
}
