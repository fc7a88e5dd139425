//! Compliance hooks: typed, opt-in fixes for providers that break RFC 6749.
//!
//! The idea comes from requests-oauthlib's `register_compliance_hook`: adjust the token request
//! before it is sent and normalise the token response before it is parsed. Here each known quirk
//! is a named switch on [`Compliance`], presets bundle them per provider, and anything else is a
//! [`ComplianceHook`]. [`Compliance::strict`] (the default) accepts only what the RFC allows.
//! [`parse_token_response_with_fixes`](super::parse_token_response_with_fixes) also says which
//! fixes a response needed ([`AppliedFixes`]); tower-oauth2's grant client logs them.
//!
//! ```
//! use std::time::UNIX_EPOCH;
//! use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
//! use oauth_core::oauth2::{parse_token_response, Compliance, TokenResponseError};
//!
//! // Legacy GitHub: form-encoded, comma-separated scope.
//! let mut headers = HeaderMap::new();
//! headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
//! let body = b"access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer";
//!
//! let strict = parse_token_response(StatusCode::OK, &headers, body, UNIX_EPOCH, &Compliance::strict());
//! assert!(matches!(strict, Err(TokenResponseError::UnexpectedContentType { .. })));
//!
//! let token = parse_token_response(StatusCode::OK, &headers, body, UNIX_EPOCH, &Compliance::github()).unwrap();
//! assert_eq!(token.scope().unwrap().to_string(), "repo gist");
//! ```

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::response::{DEFAULT_MAX_BODY_BYTES, is_decimal_digits};

/// A custom provider fix. Both methods default to doing nothing.
pub trait ComplianceHook: Send + Sync + fmt::Debug {
    /// Adjusts an outgoing token request (after the library built it).
    fn adjust_token_request(&self, request: &mut http::Request<super::SensitiveBody>) {
        let _ = request;
    }

    /// Rewrites the decoded response members before they are interpreted (RFC 6749 §5.1 names).
    fn normalize_token_response(&self, members: &mut Map<String, Value>) {
        let _ = members;
    }
}

/// Which deviations from RFC 6749 to accept from one provider, and the response size limit.
#[derive(Debug, Clone)]
pub struct Compliance {
    max_body_bytes: usize,
    form_encoded_responses: bool,
    missing_token_type_is_bearer: bool,
    expires_alias: bool,
    lenient_expires_in: bool,
    scope_lists: bool,
    slack_nested: bool,
    hooks: Vec<Arc<dyn ComplianceHook>>,
}

impl Default for Compliance {
    fn default() -> Self {
        Self::strict()
    }
}

impl Compliance {
    /// RFC behaviour only, with a [`DEFAULT_MAX_BODY_BYTES`] body limit.
    pub fn strict() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            form_encoded_responses: false,
            missing_token_type_is_bearer: false,
            expires_alias: false,
            lenient_expires_in: false,
            scope_lists: false,
            slack_nested: false,
            hooks: Vec::new(),
        }
    }

    /// GitHub's legacy behaviour (form-encoded responses without `Accept: application/json`,
    /// comma-separated `scope`).
    pub fn github() -> Self {
        Self::strict()
            .accept_form_encoded_responses()
            .accept_scope_lists()
    }

    /// Facebook's legacy behaviour: form-encoded `access_token=…&expires=…` with no
    /// `token_type`.
    pub fn facebook() -> Self {
        Self::strict()
            .accept_form_encoded_responses()
            .accept_expires_alias()
            .lenient_expires_in()
            .assume_bearer_when_token_type_missing()
    }

    /// LinkedIn-style responses without `token_type`.
    pub fn linkedin() -> Self {
        Self::strict().assume_bearer_when_token_type_missing()
    }

    /// Slack's `oauth.v2.access`: `ok`, `token_type` `bot`/`user`, comma-separated scopes and a
    /// user token nested in `authed_user`.
    pub fn slack() -> Self {
        Self::strict().slack_nested_response().accept_scope_lists()
    }

    /// Changes the response body limit.
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Accepts `application/x-www-form-urlencoded` and `text/plain` form bodies.
    #[must_use]
    pub fn accept_form_encoded_responses(mut self) -> Self {
        self.form_encoded_responses = true;
        self
    }

    /// Treats a missing `token_type` as `Bearer` (RFC 6749 §5.1 makes it REQUIRED).
    #[must_use]
    pub fn assume_bearer_when_token_type_missing(mut self) -> Self {
        self.missing_token_type_is_bearer = true;
        self
    }

    /// Reads `expires` when `expires_in` is absent.
    #[must_use]
    pub fn accept_expires_alias(mut self) -> Self {
        self.expires_alias = true;
        self
    }

    /// Accepts `expires_in` strings beyond strict decimal integers: surrounding whitespace and
    /// decimal fractions (`" 3600 "`, `"3600.0"`), floored. (Strict decimal strings such as
    /// `"3600"` are always accepted.)
    #[must_use]
    pub fn lenient_expires_in(mut self) -> Self {
        self.lenient_expires_in = true;
        self
    }

    /// Accepts `scope` as a JSON array of strings or as a comma-separated string.
    #[must_use]
    pub fn accept_scope_lists(mut self) -> Self {
        self.scope_lists = true;
        self
    }

    /// Accepts Slack's response shape (see [`Compliance::slack`]).
    #[must_use]
    pub fn slack_nested_response(mut self) -> Self {
        self.slack_nested = true;
        self
    }

    /// Adds a custom hook; hooks run in order, after the built-in fixes.
    #[must_use]
    pub fn with_hook(mut self, hook: Arc<dyn ComplianceHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// Runs the hooks' request adjustments. The grant client calls this on every token request
    /// it sends for this provider.
    pub fn adjust_token_request(&self, request: &mut http::Request<super::SensitiveBody>) {
        for hook in &self.hooks {
            hook.adjust_token_request(request);
        }
    }

    /// The response body limit in bytes.
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
    }

    pub(crate) fn accepts_form_encoded(&self) -> bool {
        self.form_encoded_responses
    }

    /// Applies the enabled fixes to decoded response members; which of them changed something.
    pub(crate) fn normalize_token_response(
        &self,
        members: &mut Map<String, Value>,
    ) -> AppliedFixes {
        let mut applied = AppliedFixes::default();
        if self.slack_nested && normalize_slack(members) {
            applied.insert(ComplianceFix::SlackNestedResponse);
        }
        if self.expires_alias
            && !members.contains_key("expires_in")
            && let Some(v) = members.remove("expires")
        {
            members.insert("expires_in".into(), v);
            applied.insert(ComplianceFix::ExpiresAlias);
        }
        if self.lenient_expires_in
            && let Some(Value::String(s)) = members.get("expires_in")
            && !is_decimal_digits(s)
        {
            let t = s.trim();
            let digits = t.split_once('.').map_or(t, |(int, _)| int);
            let frac_ok = t
                .split_once('.')
                .is_none_or(|(_, f)| f.bytes().all(|b| b.is_ascii_digit()));
            if is_decimal_digits(digits) && frac_ok {
                let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
                members.insert("expires_in".into(), Value::from(secs));
                applied.insert(ComplianceFix::LenientExpiresIn);
            }
        }
        if self.scope_lists {
            match members.get("scope") {
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                    let joined = items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ");
                    members.insert("scope".into(), Value::String(joined));
                    applied.insert(ComplianceFix::ScopeList);
                }
                Some(Value::String(s)) if s.contains(',') => {
                    let spaced = s.replace(',', " ");
                    members.insert("scope".into(), Value::String(spaced));
                    applied.insert(ComplianceFix::ScopeList);
                }
                _ => {}
            }
        }
        let has_type = matches!(members.get("token_type"), Some(Value::String(s)) if !s.is_empty());
        if self.missing_token_type_is_bearer && !has_type && !members.contains_key("error") {
            members.insert("token_type".into(), Value::String("Bearer".into()));
            applied.insert(ComplianceFix::AssumedBearer);
        }
        if !self.hooks.is_empty() {
            // Token responses are rare (one per token lifetime): the copy is cheap there.
            let before = members.clone();
            for hook in &self.hooks {
                hook.normalize_token_response(members);
            }
            if *members != before {
                applied.insert(ComplianceFix::CustomHook);
            }
        }
        applied
    }
}

/// One of a [`Compliance`]'s fixes, as applied to one token response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ComplianceFix {
    /// The body was form-encoded rather than JSON
    /// ([`Compliance::accept_form_encoded_responses`]).
    FormEncodedResponse,
    /// `token_type` was missing and `Bearer` was assumed
    /// ([`Compliance::assume_bearer_when_token_type_missing`]).
    AssumedBearer,
    /// `expires` was read as `expires_in` ([`Compliance::accept_expires_alias`]).
    ExpiresAlias,
    /// `expires_in` was a string only the lenient rule reads ([`Compliance::lenient_expires_in`]).
    LenientExpiresIn,
    /// `scope` was a JSON array or a comma-separated string ([`Compliance::accept_scope_lists`]).
    ScopeList,
    /// Slack's response shape was rewritten ([`Compliance::slack_nested_response`]).
    SlackNestedResponse,
    /// A [`ComplianceHook`] changed the response members.
    CustomHook,
}

impl ComplianceFix {
    const ALL: [Self; 7] = [
        Self::FormEncodedResponse,
        Self::AssumedBearer,
        Self::ExpiresAlias,
        Self::LenientExpiresIn,
        Self::ScopeList,
        Self::SlackNestedResponse,
        Self::CustomHook,
    ];

    /// A short name for logs: `form_encoded_response`, `assumed_bearer`, `expires_alias`,
    /// `lenient_expires_in`, `scope_list`, `slack_nested_response` or `custom_hook`.
    pub fn name(self) -> &'static str {
        match self {
            Self::FormEncodedResponse => "form_encoded_response",
            Self::AssumedBearer => "assumed_bearer",
            Self::ExpiresAlias => "expires_alias",
            Self::LenientExpiresIn => "lenient_expires_in",
            Self::ScopeList => "scope_list",
            Self::SlackNestedResponse => "slack_nested_response",
            Self::CustomHook => "custom_hook",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for ComplianceFix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of a [`Compliance`]'s fixes one token response needed: empty for a response that
/// follows RFC 6749. Returned by
/// [`parse_token_response_with_fixes`](super::parse_token_response_with_fixes); the grant
/// client logs it, so a deployment can see which fixes its provider still relies on.
///
/// `Display` lists the fixes' [names](ComplianceFix::name), comma-separated. It never holds a
/// value from the response.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AppliedFixes(u8);

impl AppliedFixes {
    /// Whether the response needed no fix.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `fix` was applied.
    pub fn contains(self, fix: ComplianceFix) -> bool {
        self.0 & fix.bit() != 0
    }

    /// The fixes applied, in [`ComplianceFix`] declaration order.
    pub fn iter(self) -> impl Iterator<Item = ComplianceFix> {
        ComplianceFix::ALL
            .into_iter()
            .filter(move |fix| self.contains(*fix))
    }

    pub(crate) fn insert(&mut self, fix: ComplianceFix) {
        self.0 |= fix.bit();
    }
}

impl fmt::Debug for AppliedFixes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for AppliedFixes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, fix) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(fix.name())?;
        }
        Ok(())
    }
}

/// Hoists Slack's nested user token and maps its token types; whether anything changed.
fn normalize_slack(members: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    // `{"ok":false,"error":"invalid_code"}` already carries `error`.
    let has_top_token = members.get("access_token").is_some_and(|v| !v.is_null());
    if !has_top_token && let Some(Value::Object(user)) = members.get_mut("authed_user") {
        let mut hoisted = Map::new();
        for key in [
            "access_token",
            "token_type",
            "scope",
            "refresh_token",
            "expires_in",
        ] {
            if let Some(v) = user.remove(key) {
                hoisted.insert(key.to_owned(), v);
            }
        }
        changed |= !hoisted.is_empty();
        members.extend(hoisted);
    }
    if let Some(Value::String(t)) = members.get("token_type")
        && (t == "bot" || t == "user")
    {
        members.insert("token_type".into(), Value::String("Bearer".into()));
        changed = true;
    }
    changed
}
