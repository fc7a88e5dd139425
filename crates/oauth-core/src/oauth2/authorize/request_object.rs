//! Signed authorization requests (JAR, RFC 9101): the request's parameters become the claims
//! of a JWT signed with the client's key, and the URL (or the pushed request) carries only
//! `client_id` and that `request`. The server then trusts no parameter that is not signed, so
//! nothing on the way through the browser can change `redirect_uri`, `scope` or the PKCE
//! challenge. FAPI 2.0 Message Signing and FAPI-CIBA ask for it.

use std::time::Duration;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::AuthorizeError;
use crate::oauth2::PrivateKeyJwt;

/// The JWT `typ` of a request object (RFC 9101 §10.8).
const REQUEST_OBJECT_TYPE: &str = "oauth-authz-req+jwt";

/// How long a signed request object is valid by default: five minutes, from the moment the
/// URL is built to the moment the browser arrives at the authorization endpoint (FAPI 2.0
/// Message Signing allows at most 60).
pub const DEFAULT_REQUEST_OBJECT_LIFETIME: Duration = Duration::from_secs(300);

/// Names a request object's parameters may not use: its own JWT claims, which the signer
/// writes (`iss`, `aud`, `iat`, `nbf`, `exp`, `jti`), and `request` / `request_uri`, which a
/// request object must not contain (RFC 9101 §4).
const RESERVED: &[&str] = &[
    "iss",
    "aud",
    "iat",
    "nbf",
    "exp",
    "jti",
    "sub",
    "request",
    "request_uri",
];

/// Parameters whose value is JSON (OpenID Connect `claims`, RFC 9396 `authorization_details`),
/// carried in a request object as JSON rather than as a string of it.
const JSON_VALUED: &[&str] = &["claims", "authorization_details"];

/// The request object for `params` (all of the request's parameters, `client_id` among them):
/// `iss` the client, `aud` the authorization server's issuer identifier (RFC 9101 §4), a
/// fresh `jti`, `iat` = `nbf` now and `exp` `lifetime` later; signed with `key`.
///
/// A parameter given more than once (`resource`, RFC 8707) becomes an array; `max_age` a
/// number (OpenID Connect Core §6.1), and so does CIBA's `requested_expiry` (CIBA Core §7.1.1); `claims` and `authorization_details` their JSON when
/// they are JSON objects / arrays.
pub(crate) fn request_object(
    params: &[(String, String)],
    key: &PrivateKeyJwt,
    client_id: &str,
    audience: &str,
    lifetime: Duration,
) -> Result<Zeroizing<String>, AuthorizeError> {
    // Each name once, in the order first given, with every value given for it.
    let mut grouped: Vec<(&str, Vec<Value>)> = Vec::new();
    for (name, value) in params {
        if RESERVED.contains(&name.as_str()) {
            return Err(AuthorizeError::ReservedParameter(name.clone()));
        }
        let value = claim_value(name, value);
        match grouped.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value),
            None => grouped.push((name, vec![value])),
        }
    }
    let mut claims = Map::new();
    for (name, mut values) in grouped {
        let value = if values.len() == 1 {
            values.remove(0)
        } else {
            Value::Array(values)
        };
        claims.insert(name.to_owned(), value);
    }
    claims.insert("iss".into(), client_id.into());
    claims.insert("aud".into(), audience.into());
    key.sign_claims(REQUEST_OBJECT_TYPE, lifetime, claims, true)
        .map_err(AuthorizeError::RequestObject)
}

/// A parameter's value as a claim: see [`request_object`].
fn claim_value(name: &str, value: &str) -> Value {
    if (name == "max_age" || name == "requested_expiry")
        && let Ok(seconds) = value.parse::<u64>()
    {
        return seconds.into();
    }
    if JSON_VALUED.contains(&name)
        && let Ok(json @ (Value::Object(_) | Value::Array(_))) =
            serde_json::from_str::<Value>(value)
    {
        return json;
    }
    value.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{CountingRandom, ManualClock};
    use crate::oauth2::AssertionError;
    use crate::oauth2::jws::part;

    fn key() -> PrivateKeyJwt {
        let pem = crate::oauth2::jws::EcP256PrivateKey::generate_pkcs8_pem().unwrap();
        PrivateKeyJwt::es256(crate::oauth2::jws::EcP256PrivateKey::from_pem(&pem).unwrap())
            .key_id("k1")
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(5))
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn claims_are_the_parameters_with_their_json_types_and_the_jwt_claims() {
        let jwt = request_object(
            &params(&[
                ("response_type", "code"),
                ("client_id", "c1"),
                ("max_age", "600"),
                ("resource", "https://a.example/"),
                ("resource", "https://b.example/"),
                ("resource", "https://c.example/"),
                ("claims", r#"{"id_token":{"acr":null}}"#),
                ("authorization_details", r#"[{"type":"payment"}]"#),
                ("login_hint", "{not json"),
            ]),
            &key(),
            "c1",
            "https://as.example",
            Duration::from_secs(120),
        )
        .unwrap();
        let header = part(&jwt, 0);
        assert_eq!(header["typ"], "oauth-authz-req+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
        let claims = part(&jwt, 1);
        assert_eq!(claims["iss"], "c1");
        assert_eq!(claims["aud"], "https://as.example");
        assert_eq!(claims["client_id"], "c1");
        assert_eq!(claims["response_type"], "code");
        assert_eq!(claims["max_age"], 600);
        assert_eq!(
            claims["resource"],
            serde_json::json!([
                "https://a.example/",
                "https://b.example/",
                "https://c.example/"
            ])
        );
        assert_eq!(claims["claims"]["id_token"]["acr"], Value::Null);
        assert_eq!(claims["authorization_details"][0]["type"], "payment");
        assert_eq!(claims["login_hint"], "{not json");
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["nbf"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_120u64);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        assert!(claims.get("sub").is_none());
    }

    #[test]
    fn jwt_claim_names_and_nested_requests_are_refused() {
        for name in RESERVED {
            let err = request_object(
                &params(&[("client_id", "c1"), (name, "x")]),
                &key(),
                "c1",
                "https://as.example",
                DEFAULT_REQUEST_OBJECT_LIFETIME,
            )
            .unwrap_err();
            assert_eq!(err, AuthorizeError::ReservedParameter((*name).into()));
        }
    }

    #[test]
    fn a_failing_key_is_a_typed_error() {
        let err = request_object(
            &params(&[("client_id", "c1")]),
            &key().clock(ManualClock::new(
                std::time::UNIX_EPOCH - Duration::from_secs(1),
            )),
            "c1",
            "https://as.example",
            DEFAULT_REQUEST_OBJECT_LIFETIME,
        );
        assert_eq!(
            err.unwrap_err(),
            AuthorizeError::RequestObject(AssertionError::ClockBeforeEpoch)
        );
    }
}
