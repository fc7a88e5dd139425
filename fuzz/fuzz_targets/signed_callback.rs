//! `PendingAuthorization::parse_signed_callback` (JARM, `response_mode=query.jwt`) on arbitrary
//! callback URLs, raw or assembled around a response JWT built from choices (header, claims
//! good or bad, extra parameters beside it) and signed with a fixed Ed25519 test key of the
//! server's JWK set, or tampered with afterwards.
//!
//! Invariants: no panic; a callback is accepted only when it carries, at the redirect URI,
//! exactly one `response` and nothing else, signed by the key, untampered, with the good header
//! and good claims (`iss` the issuer, `aud` naming the client, `exp` not passed, the flow's
//! `state`, a code, no error); such a callback is accepted; the exchange's code is the signed
//! one; `signed_response_key_unknown` holds only for a key the set does not have; the state and
//! the code never appear in an error or in `Debug`.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_core::clock::CountingRandom;
use oauth_core::encode::percent_encode;
use oauth_core::oauth2::oidc::Jwks;
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Endpoint, Issuer, PendingAuthorization, RedirectUri,
    SignedResponseError,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

const ISSUER: &str = "https://as.example.com";
const CLIENT: &str = "client";
const NOW: u64 = 1_800_000_000;
const KID: &str = "as-key";
/// Characters no error text or `Debug` of ours contains: a code holding one can be searched
/// for in printed output.
const MARKERS: &[char] = &['!', '~', '*', '@', '$', '^', '|'];

#[derive(Debug, Arbitrary)]
enum Header<'a> {
    Good,
    NoKid,
    OtherKid,
    AlgNone,
    Hs256,
    Es256,
    Typ(&'a str),
    Crit,
    Raw(&'a str),
}

#[derive(Debug, Arbitrary)]
enum Iss<'a> {
    Good,
    WithSlash,
    Other(&'a str),
    Number,
    Missing,
}

#[derive(Debug, Arbitrary)]
enum Aud<'a> {
    Client,
    /// An array: `true` is the client, `false` another audience.
    Array(Vec<bool>),
    Other(&'a str),
    Number,
    Missing,
}

#[derive(Debug, Arbitrary)]
enum Exp {
    /// Seconds after now.
    Ahead(u16),
    /// Seconds before now.
    Behind(u16),
    Float(f64),
    Text,
    Missing,
}

#[derive(Debug, Arbitrary)]
enum Text<'a> {
    Good,
    Str(&'a str),
    Number,
    Empty,
    Missing,
}

#[derive(Debug, Arbitrary)]
struct Claims<'a> {
    iss: Iss<'a>,
    aud: Aud<'a>,
    exp: Exp,
    state: Text<'a>,
    code: Text<'a>,
    error: Option<&'a str>,
    extra: Vec<(&'a str, &'a str)>,
}

#[derive(Debug, Arbitrary)]
enum Url<'a> {
    Raw(&'a str),
    Built {
        prefix: u8,
        header: Header<'a>,
        claims: Claims<'a>,
        /// Replaces the character at this position (modulo the JWT's length) with another.
        tamper: Option<(u16, u8)>,
        before: Vec<(&'a str, &'a str)>,
        after: Vec<(&'a str, &'a str)>,
    },
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    signed_flow: bool,
    url: Url<'a>,
}

/// The server's key (a fixed seed: signatures are deterministic) and its JWK set.
fn server() -> &'static (Ed25519KeyPair, Jwks) {
    static SERVER: OnceLock<(Ed25519KeyPair, Jwks)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": KID,
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())});
        let jwks = Jwks::parse(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
        (pair, jwks)
    })
}

fn pending(signed: bool) -> PendingAuthorization {
    let endpoint = Endpoint::new("https://as.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let mut request = AuthorizationRequest::new(&endpoint, CLIENT, &redirect)
        .expect_issuer(Issuer::new(ISSUER).unwrap(), true);
    if signed {
        request = request.signed_response();
    }
    request.build(&CountingRandom::new(7)).unwrap().1
}

/// The header's JSON, and whether it is one the key verifies.
fn header(choice: &Header<'_>) -> (String, bool) {
    let (value, good) = match choice {
        Header::Good => (json!({"alg": "EdDSA", "kid": KID}), true),
        Header::NoKid => (json!({"alg": "EdDSA"}), true),
        Header::OtherKid => (json!({"alg": "EdDSA", "kid": "another"}), false),
        Header::AlgNone => (json!({"alg": "none", "kid": KID}), false),
        Header::Hs256 => (json!({"alg": "HS256", "kid": KID}), false),
        Header::Es256 => (json!({"alg": "ES256", "kid": KID}), false),
        Header::Typ(typ) => {
            let good =
                typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("application/jwt");
            (json!({"alg": "EdDSA", "kid": KID, "typ": typ}), good)
        }
        Header::Crit => (json!({"alg": "EdDSA", "kid": KID, "crit": ["exp"]}), false),
        Header::Raw(raw) => return ((*raw).to_owned(), false),
    };
    (value.to_string(), good)
}

/// The claims' JSON, whether they make a response that must be accepted, and the code.
fn claims(choice: &Claims<'_>, state: &str) -> (Value, bool, Option<String>) {
    let mut good = true;
    let mut claims = serde_json::Map::new();
    let mut set = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            claims.insert(name.to_owned(), value);
        }
    };
    set(
        "iss",
        match choice.iss {
            Iss::Good => Some(ISSUER.into()),
            Iss::WithSlash => Some(format!("{ISSUER}/").into()),
            Iss::Other(other) => Some(other.into()),
            Iss::Number => Some(7.into()),
            Iss::Missing => None,
        },
    );
    good &= matches!(choice.iss, Iss::Good) || matches!(choice.iss, Iss::Other(o) if o == ISSUER);
    set(
        "aud",
        match &choice.aud {
            Aud::Client => Some(CLIENT.into()),
            Aud::Array(members) => Some(
                members
                    .iter()
                    .map(|&client| if client { CLIENT } else { "another" })
                    .collect(),
            ),
            Aud::Other(other) => Some((*other).into()),
            Aud::Number => Some(7.into()),
            Aud::Missing => None,
        },
    );
    good &= match &choice.aud {
        Aud::Client => true,
        Aud::Array(members) => members.contains(&true),
        Aud::Other(other) => *other == CLIENT,
        _ => false,
    };
    set(
        "exp",
        match choice.exp {
            Exp::Ahead(secs) => Some((NOW + u64::from(secs)).into()),
            Exp::Behind(secs) => Some((NOW - u64::from(secs)).into()),
            Exp::Float(secs) => serde_json::Number::from_f64(secs).map(Value::Number),
            Exp::Text => Some("1800000600".into()),
            Exp::Missing => None,
        },
    );
    // The skew is 60 s: `exp` up to 60 s ago is still accepted; a NumericDate may be
    // fractional (the fraction is dropped), and is at least 0 and under 10^15.
    good &= match choice.exp {
        Exp::Ahead(_) => true,
        Exp::Behind(secs) => secs < 60,
        Exp::Float(secs) => {
            secs.is_finite() && (0.0..1e15).contains(&secs) && secs as u64 + 60 > NOW
        }
        _ => false,
    };
    let text = |t: &Text<'_>, good_value: &str| match t {
        Text::Good => Some(Value::from(good_value)),
        Text::Str(s) => Some(Value::from(*s)),
        Text::Number => Some(Value::from(7)),
        Text::Empty => Some(Value::from("")),
        Text::Missing => None,
    };
    set("state", text(&choice.state, state));
    good &=
        matches!(choice.state, Text::Good) || matches!(choice.state, Text::Str(s) if s == state);
    set("code", text(&choice.code, "signed-code"));
    let code = match choice.code {
        Text::Good => Some("signed-code".to_owned()),
        Text::Str(s) if !s.is_empty() => Some(s.to_owned()),
        _ => None,
    };
    good &= code.is_some();
    if let Some(error) = choice.error {
        set("error", Some(error.into()));
        good &= error.is_empty();
    }
    for (name, value) in &choice.extra {
        // Not the claims above, even when those are missing.
        if claims.contains_key(*name)
            || matches!(*name, "iss" | "aud" | "exp" | "state" | "code" | "error")
        {
            continue;
        }
        if !value.is_empty() && matches!(*name, "access_token" | "id_token") {
            good = false;
        }
        claims.insert((*name).to_owned(), (*value).into());
    }
    (Value::Object(claims), good, code)
}

fn pairs(url: &mut String, pairs: &[(&str, &str)]) {
    for (name, value) in pairs {
        url.push_str(&percent_encode(name));
        url.push('=');
        url.push_str(&percent_encode(value));
        url.push('&');
    }
}

fuzz_target!(|input: Input<'_>| {
    let (pair, jwks) = server();
    let pending = pending(input.signed_flow);
    let state = pending.state().to_owned();
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    // (The URL, whether it must be accepted, the signed code.)
    let (url, must_accept, code) = match &input.url {
        Url::Raw(raw) => ((*raw).to_owned(), false, None),
        Url::Built {
            prefix,
            header: header_choice,
            claims: claims_choice,
            tamper,
            before,
            after,
        } => {
            let (header, good_header) = header(header_choice);
            let (claims, good_claims, code) = claims(claims_choice, &state);
            let signing_input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(&header),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature = pair.sign(signing_input.as_bytes());
            let mut jwt = format!(
                "{signing_input}.{}",
                URL_SAFE_NO_PAD.encode(signature.as_ref())
            );
            let mut tampered = false;
            if let Some((at, with)) = tamper {
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
                let at = usize::from(*at) % jwt.len();
                let with = ALPHABET[usize::from(*with) % ALPHABET.len()];
                let mut bytes = jwt.into_bytes();
                tampered = bytes[at] != with;
                bytes[at] = with;
                jwt = String::from_utf8(bytes).unwrap();
            }
            let (target, good_target) = [
                ("https://client.example.com/cb?", true),
                ("/cb?", true),
                ("https://client.example.com/other?", false),
                ("?", false),
            ][usize::from(prefix % 4)];
            let mut url = target.to_owned();
            pairs(&mut url, before);
            url.push_str("response=");
            url.push_str(&jwt);
            url.push('&');
            pairs(&mut url, after);
            // A parameter with an empty value counts as absent (RFC 6749 §3.1).
            let nothing_else = before
                .iter()
                .chain(after)
                .all(|(_, value)| value.is_empty());
            let must_accept = input.signed_flow
                && good_target
                && good_header
                && good_claims
                && !tampered
                && nothing_else;
            (url, must_accept, code)
        }
    };

    let key_unknown = pending.signed_response_key_unknown(&url, jwks);
    let result = pending.parse_signed_callback(&url, jwks, now);
    if key_unknown {
        assert_eq!(
            result.as_ref().err(),
            Some(&CallbackError::SignedResponse(
                SignedResponseError::UnknownKey
            ))
        );
    }
    match result {
        Ok(exchange) => {
            assert!(
                matches!(input.url, Url::Built { .. }),
                "accepted a raw callback: {url}"
            );
            assert!(must_accept, "accepted a callback it must refuse: {url}");
            assert_eq!(Some(exchange.code().secret()), code.as_deref());
            let debug = format!("{exchange:?}");
            assert!(!debug.contains(&state));
            // A code with a character no `Debug` of ours shows.
            let code = exchange.code().secret();
            if code.contains(MARKERS) {
                assert!(!debug.contains(code), "{debug}");
            }
        }
        Err(error) => {
            assert!(!must_accept, "refused a good callback ({error:?}): {url}");
            // An error may echo a parameter's name, or carry the server's signed error: what
            // it shows besides is checked, with the echo left out.
            let rest = match &error {
                CallbackError::ParameterOutsideSignedResponse { .. } => {
                    Some(CallbackError::ParameterOutsideSignedResponse {
                        name: String::new(),
                    })
                }
                CallbackError::DuplicateParameter { .. } => {
                    Some(CallbackError::DuplicateParameter {
                        name: String::new(),
                    })
                }
                CallbackError::AuthorizationDenied(_) => None,
                other => Some(other.clone()),
            };
            if let Some(rest) = rest {
                let printed = format!("{rest} {rest:?}");
                assert!(!printed.contains(&state), "state printed: {printed}");
                if let Some(code) = code.filter(|c| c.contains(MARKERS)) {
                    assert!(!printed.contains(&code), "code printed: {printed}");
                }
            }
        }
    }
});
