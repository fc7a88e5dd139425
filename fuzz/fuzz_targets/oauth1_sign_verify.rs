//! Sign-then-verify round trip (RFC 5849 §3.1–§3.5 against §3.2): arbitrary method, URI
//! (absolute or origin-form), query and form parameters, credentials, optional parameters,
//! signature method and placement go through `Signer::sign`; the result, read back as a server
//! would with `UnverifiedRequest::parse(..).verify(..)`, must verify and give back the same
//! protocol parameters.
//!
//! `sign` may refuse an input (an `oauth_*` parameter already present, a bad realm, ...); what it
//! signs must verify.
#![no_main]

use std::sync::OnceLock;

use http::{Method, Uri};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_core::clock::{CountingRandom, ManualClock};
use oauth_core::encode::percent_encode;
use oauth_core::oauth1::{
    ClientCredentials, IncomingRequest, Origin, Placement, RsaPrivateKey, SignOptions,
    SignatureMethod, Signer, SigningSecrets, TokenCredentials, UnverifiedRequest, VerifyKey,
};
use oauth_core::secret::{ConsumerSecret, TokenSecret, Verifier};

/// A throwaway 1024-bit key made for this fuzz target (small so that RSA inputs stay fast).
const RSA_PEM: &str = include_str!("../keys/test_rsa_1024.pem");

#[derive(Debug, Arbitrary)]
enum Encoding {
    /// RFC 3986 percent-encoding of every reserved character.
    Percent,
    /// Form encoding: spaces as `+`.
    Plus,
    /// As given (only used if the URI or body still parses).
    Raw,
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    method: &'a str,
    https: bool,
    host: u8,
    origin_form: bool,
    path: Vec<&'a str>,
    query: Vec<(&'a str, &'a str)>,
    query_encoding: Encoding,
    body: Option<Vec<(&'a str, &'a str)>>,
    body_encoding: Encoding,
    placement: u8,
    signature_method: u8,
    consumer_key: &'a str,
    consumer_secret: &'a str,
    token: Option<(&'a str, &'a str)>,
    realm: Option<&'a str>,
    callback: Option<&'a str>,
    verifier: Option<&'a str>,
    version: bool,
    body_hash: Option<&'a [u8]>,
    clock: u32,
}

fn encode(out: &mut String, pairs: &[(&str, &str)], encoding: &Encoding) {
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        for (j, part) in [name, value].into_iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            match encoding {
                Encoding::Percent => out.push_str(&percent_encode(part)),
                Encoding::Plus => out.push_str(&percent_encode(part).replace("%20", "+")),
                Encoding::Raw => out.push_str(part),
            }
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let method = match input.method {
        "" => Method::GET,
        m => match Method::from_bytes(m.as_bytes()) {
            Ok(m) => m,
            Err(_) => return,
        },
    };
    let scheme = if input.https { "https" } else { "http" };
    let host = [
        "api.example.com",
        "API.Example.COM:443",
        "example.com:80",
        "[::1]:8080",
        "127.0.0.1:9",
        "h",
    ][usize::from(input.host % 6)];
    let mut target = String::from("/");
    for (i, segment) in input.path.iter().enumerate() {
        if i > 0 {
            target.push('/');
        }
        target.push_str(&percent_encode(segment));
    }
    if !input.query.is_empty() {
        target.push('?');
        encode(&mut target, &input.query, &input.query_encoding);
    }
    let uri_text = if input.origin_form {
        target
    } else {
        format!("{scheme}://{host}{target}")
    };
    let Ok(uri) = uri_text.parse::<Uri>() else {
        return;
    };
    let origin = Origin::new(scheme, host);
    let body = input.body.as_ref().map(|pairs| {
        let mut body = String::new();
        encode(&mut body, pairs, &input.body_encoding);
        body
    });

    let method_choice = SignatureMethod::ALL[usize::from(input.signature_method % 7)];
    let mut builder = Signer::builder(ClientCredentials::new(
        input.consumer_key,
        ConsumerSecret::new(input.consumer_secret),
    ))
    .method(method_choice)
    .clock(ManualClock::at_unix_seconds(u64::from(input.clock)))
    .random(CountingRandom::new(u64::from(input.clock)))
    .dangerous_allow_plaintext_over_http();
    if let Some((token, secret)) = input.token {
        builder = builder.token(TokenCredentials::new(token, TokenSecret::new(secret)));
    }
    static RSA: OnceLock<RsaPrivateKey> = OnceLock::new();
    let rsa = RSA
        .get_or_init(|| RsaPrivateKey::from_pem_with_min_bits(RSA_PEM, 1024).unwrap())
        .clone();
    let public = rsa.public_key();
    if method_choice.is_rsa() {
        builder = builder.rsa_key(rsa);
    }
    let Ok(signer) = builder.build() else {
        return;
    };

    let verifier = input.verifier.map(Verifier::new);
    let mut options = SignOptions::new().version(input.version);
    if let Some(realm) = input.realm {
        options = options.realm(realm);
    }
    if let Some(callback) = input.callback {
        options = options.callback(callback);
    }
    if let Some(verifier) = &verifier {
        options = options.verifier(verifier);
    }
    if let Some(hash) = input.body_hash {
        options = options.body_hash(hash);
    }
    if input.origin_form {
        options = options.origin(origin);
    }
    let placement = match input.placement % 3 {
        0 => Placement::Header,
        1 => Placement::Query,
        _ => Placement::Body,
    };
    let Ok(signed) = signer.sign(
        &method,
        &uri,
        body.as_deref().map(str::as_bytes),
        &options,
        placement,
    ) else {
        return;
    };

    let signed_uri = signed.uri().unwrap_or(&uri).clone();
    let mut incoming = IncomingRequest::new(&method, &signed_uri);
    if input.origin_form {
        incoming = incoming.origin(origin);
    }
    if let Some(authorization) = signed.authorization() {
        incoming = incoming.authorization(authorization);
    }
    let signed_body = signed.body().map(<[u8]>::to_vec);
    if let Some(form) = signed_body
        .as_deref()
        .or(body.as_deref().map(str::as_bytes))
    {
        incoming = incoming.form_body(form);
    }
    let parsed = UnverifiedRequest::parse(incoming)
        .unwrap_or_else(|e| panic!("signed request does not parse: {e:?}"))
        .dangerous_allow_plaintext_over_http();
    let consumer_secret = ConsumerSecret::new(input.consumer_secret);
    let token_secret = input.token.map(|(_, s)| TokenSecret::new(s));
    let secrets = SigningSecrets {
        consumer_secret: &consumer_secret,
        token_secret: token_secret.as_ref(),
    };
    let key = if method_choice.is_rsa() {
        VerifyKey::Rsa(&public)
    } else {
        VerifyKey::Secrets(secrets)
    };
    let protocol = parsed
        .verify(key)
        .unwrap_or_else(|e| panic!("signed request does not verify: {e:?}"));

    assert_eq!(protocol.consumer_key(), input.consumer_key);
    assert_eq!(protocol.token(), input.token.map(|(t, _)| t));
    assert_eq!(protocol.signature_method(), method_choice.name());
    assert_eq!(protocol.nonce(), Some(signed.nonce()));
    assert_eq!(protocol.timestamp(), Some(signed.timestamp()));
    assert_eq!(protocol.callback(), input.callback);
    assert_eq!(protocol.verifier().map(Verifier::secret), input.verifier);
    if let Some(hash) = input.body_hash {
        assert!(protocol.body_hash_matches(hash));
    }
    if placement == Placement::Header {
        assert_eq!(protocol.realm(), input.realm);
    }
});
