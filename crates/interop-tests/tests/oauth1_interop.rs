//! tower-oauth1 against the real Python `oauthlib` provider (`oauthlib_provider/provider.py`).
//!
//! Every signed request goes through `ServiceBuilder::new().layer(SignLayer…)` around a real
//! `hyper_util::client::legacy::Client`; the dance goes through `Dance` over a plain one. Each
//! test starts its own provider (stopped at the end, or by `Drop` on a panic), and each test and
//! each request is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use interop_tests::OauthlibProvider;
use interop_tests::oauthlib::{
    self, ACCESS_TOKEN, ACCESS_TOKEN_SECRET, CLIENT_KEY, CLIENT_SECRET, SPECIAL_ACCESS_TOKEN,
    SPECIAL_ACCESS_TOKEN_SECRET, SPECIAL_CLIENT_KEY, SPECIAL_CLIENT_SECRET, TEST_USER,
};
use oauth_core::clock::{ManualClock, RandomError, RandomSource};
use oauth_core::oauth1::{
    ClientCredentials, Placement, RsaPrivateKey, SignatureMethod, Signer, TokenCredentials,
};
use oauth_core::secret::{ConsumerSecret, TokenSecret, Verifier};
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_oauth1::dance::{Callback, CallbackError, Dance, DanceError};
use tower_oauth1::sign::{Origin, Sign, SignLayer, SignRequestError, SignRequestErrorKind};
use tower_oauth1::{BoxError, Realm, SignedBody};

/// Bound for each test as a whole.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);
// A server that does not start is reported by the harness with its log (after at most
// READY_TIMEOUT), not cut short by the test's own bound.
const _: () = assert!(TEST_TIMEOUT.as_secs() >= interop_tests::READY_TIMEOUT.as_secs() + 30);
/// Bound for each request (and each dance step).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const FORM: &str = "application/x-www-form-urlencoded";

/// Reserved and non-ASCII characters that must survive signing, sending and decoding.
const TRICKY: &str = "\u{fc}\u{20ac} 100% a&b=c+d /x?#~";

const PLACEMENTS: [(Placement, &str); 3] = [
    (Placement::Header, "auth_header"),
    (Placement::Query, "query"),
    (Placement::Body, "body"),
];

/// The body type the signed hyper client is built for.
type ReqBody = Full<Bytes>;
/// The hyper client inside the signer.
type HttpClient = Client<HttpConnector, SignedBody<ReqBody>>;

#[derive(Clone, Copy, Debug)]
struct ClientId {
    key: &'static str,
    secret: &'static str,
}

const CLIENT: ClientId = ClientId {
    key: CLIENT_KEY,
    secret: CLIENT_SECRET,
};
/// Its secret has `%`, space, `&`, `+`, `=`, `/` and non-ASCII characters.
const SPECIAL: ClientId = ClientId {
    key: SPECIAL_CLIENT_KEY,
    secret: SPECIAL_CLIENT_SECRET,
};

fn access_token() -> TokenCredentials {
    TokenCredentials::new(ACCESS_TOKEN, TokenSecret::new(ACCESS_TOKEN_SECRET))
}

fn special_access_token() -> TokenCredentials {
    TokenCredentials::new(
        SPECIAL_ACCESS_TOKEN,
        TokenSecret::new(SPECIAL_ACCESS_TOKEN_SECRET),
    )
}

/// The committed test key: PKCS#8 for [`CLIENT`], PKCS#1 (the same key) for [`SPECIAL`].
fn rsa_key(pkcs1: bool) -> RsaPrivateKey {
    static PKCS8: OnceLock<RsaPrivateKey> = OnceLock::new();
    static PKCS1: OnceLock<RsaPrivateKey> = OnceLock::new();
    let (cell, path) = if pkcs1 {
        (&PKCS1, oauthlib::rsa_private_key_pkcs1_path())
    } else {
        (&PKCS8, oauthlib::rsa_private_key_pkcs8_path())
    };
    cell.get_or_init(|| {
        let pem = std::fs::read_to_string(&path).unwrap();
        RsaPrivateKey::from_pem(&pem).unwrap()
    })
    .clone()
}

fn signer_builder(
    client: ClientId,
    token: Option<TokenCredentials>,
    method: SignatureMethod,
) -> oauth_core::oauth1::SignerBuilder {
    let mut builder = Signer::builder(ClientCredentials::new(
        client.key,
        ConsumerSecret::new(client.secret),
    ))
    .method(method);
    if let Some(token) = token {
        builder = builder.token(token);
    }
    if method.is_rsa() {
        builder = builder.rsa_key(rsa_key(client.key == SPECIAL_CLIENT_KEY));
    }
    if method == SignatureMethod::Plaintext {
        // The provider is plain http on loopback.
        builder = builder.dangerous_allow_plaintext_over_http();
    }
    builder
}

fn signer(client: ClientId, token: Option<TokenCredentials>, method: SignatureMethod) -> Signer {
    signer_builder(client, token, method).build().unwrap()
}

fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// `SignLayer` around a real hyper-util client, signing for the provider's origin only.
fn signing_client(
    signer: Signer,
    placement: Placement,
    provider: &OauthlibProvider,
) -> Sign<HttpClient> {
    ServiceBuilder::new()
        .layer(sign_layer(signer, provider).placement(placement))
        .service(http_client())
}

/// `SignLayer` for the provider's origin (PLAINTEXT needs an allowlist).
fn sign_layer(signer: Signer, provider: &OauthlibProvider) -> SignLayer {
    let origin = Origin::from_uri(&provider.base_url().parse().unwrap()).unwrap();
    SignLayer::new(signer)
        .allowed_origins([origin])
        .dangerous_allow_http_loopback()
}

/// A response, body read to the end.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The provider's list of failed checks on a 401.
    fn failed(&self) -> Value {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{self:?}");
        self.json()["failed"].clone()
    }
}

async fn timed<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} timed out"))
}

/// Sends one request through `svc` (waiting for readiness), reads the whole response.
async fn send<S, B>(svc: &mut S, request: Request<ReqBody>) -> Result<Reply, BoxError>
where
    S: Service<Request<ReqBody>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    timed("request", async {
        let response = svc
            .ready()
            .await
            .map_err(Into::into)?
            .call(request)
            .await
            .map_err(Into::into)?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(Into::into)?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(bytes.to_vec())?,
        })
    })
    .await
}

/// What the signer refuses before anything is sent: body placement on a GET (whose body
/// servers ignore), and PLAINTEXT in the query (its secrets would be in the URL).
fn refused_locally(
    method: SignatureMethod,
    placement: Placement,
    http_method: &str,
) -> Option<SignRequestErrorKind> {
    if method == SignatureMethod::Plaintext && placement == Placement::Query {
        Some(SignRequestErrorKind::SecretsInQuery)
    } else if placement == Placement::Body && http_method == "GET" {
        Some(SignRequestErrorKind::BodyPlacementWithoutBody)
    } else {
        None
    }
}

/// Sends `request`, or checks that the signer refuses it as `refused_locally` says.
async fn send_or_refused<S, B>(
    svc: &mut S,
    request: Request<ReqBody>,
    refused: Option<SignRequestErrorKind>,
    what: &str,
) -> Option<Reply>
where
    S: Service<Request<ReqBody>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    let result = send(svc, request).await;
    match refused {
        None => Some(result.unwrap()),
        Some(kind) => {
            let error = result.unwrap_err();
            let got = error.downcast_ref::<SignRequestError>().map(|e| e.kind());
            assert_eq!(got, Some(kind), "{what}: {error:?}");
            None
        }
    }
}

fn get(url: &str) -> Request<ReqBody> {
    Request::get(url).body(Full::default()).unwrap()
}

fn post_form(url: &str, form: &str) -> Request<ReqBody> {
    Request::post(url)
        .header(header::CONTENT_TYPE, FORM)
        .body(Full::new(Bytes::copy_from_slice(form.as_bytes())))
        .unwrap()
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (space is `%20`).
fn enc(s: &str) -> String {
    oauth_core::encode::percent_encode(s).into_owned()
}

/// `application/x-www-form-urlencoded` serialisation (space is `+`, `+` is `%2B`).
fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn pairs(list: &[(&str, &str)]) -> Value {
    Value::Array(list.iter().map(|(k, v)| json!([k, v])).collect())
}

/// Checks a 200 echo against `expected` (a subset of its fields).
fn check_echo(reply: &Reply, expected: &Value) -> Result<(), String> {
    if reply.status != StatusCode::OK {
        return Err(format!("{}: {}", reply.status, reply.body));
    }
    let echo = reply.json();
    let mismatches: Vec<String> = expected
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| echo[k.as_str()] != **v)
        .map(|(k, v)| format!("{k}: got {}, want {v}", echo[k.as_str()]))
        .collect();
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(mismatches.join("; "))
    }
}

async fn start() -> OauthlibProvider {
    common::blocking(|| OauthlibProvider::start(None))
        .await
        .unwrap()
}

async fn stop(provider: OauthlibProvider) {
    common::blocking(move || provider.stop()).await;
}

/// Runs `f` within [`TEST_TIMEOUT`]. Installing the servers' packages comes first and is
/// not counted: on a fresh checkout `setup.sh` runs pip and npm (bounded by the harness
/// itself), which can take longer than a test.
async fn bounded(f: impl Future<Output = ()>) {
    common::blocking(interop_tests::ensure_installed)
        .await
        .expect("installing the interop test servers");
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test took too long");
}

fn endpoint(provider: &OauthlibProvider, path: &str) -> Uri {
    provider.url(path).parse().unwrap()
}

fn dance(provider: &OauthlibProvider, client: ClientId, method: SignatureMethod) -> Dance {
    Dance::new(
        signer(client, None, method),
        endpoint(provider, "/request_token"),
        endpoint(provider, "/access_token"),
    )
    .dangerous_allow_http_loopback()
}

/// The whole three-legged dance against the provider, returning the token credentials.
async fn run_dance(
    provider: &OauthlibProvider,
    client: ClientId,
    method: SignatureMethod,
    callback: &Callback,
) -> Result<tower_oauth1::dance::TokenCredentials, String> {
    run_this_dance(provider, &dance(provider, client, method), callback).await
}

/// [`run_dance`] with a dance built by the caller.
async fn run_this_dance(
    provider: &OauthlibProvider,
    dance: &Dance,
    callback: &Callback,
) -> Result<tower_oauth1::dance::TokenCredentials, String> {
    // The dance signs its own requests; its client is a plain one that does not follow redirects.
    let mut http = common::client();
    let pending = timed(
        "temporary credentials",
        dance.request_temporary_credentials(&mut http, callback),
    )
    .await
    .map_err(|e| format!("temporary credentials: {e:?}"))?;
    let authorize = pending
        .authorization_url(&provider.url("/authorize"))
        .map_err(|e| format!("authorization URL: {e:?}"))?;
    let reply = send(&mut http, get(&authorize.to_string()))
        .await
        .map_err(|e| format!("authorize: {e}"))?;
    let credentials = match callback {
        Callback::Uri(callback) => {
            if reply.status != StatusCode::FOUND {
                return Err(format!("authorize: {reply:?}"));
            }
            let location = reply.header(header::LOCATION).unwrap_or_default();
            // The callback's own query comes back byte for byte, the two parameters appended.
            if !location.starts_with(&format!("{callback}&oauth_token=")) {
                return Err(format!("unexpected Location {location:?}"));
            }
            let location: Uri = location.parse().map_err(|e| format!("{e}"))?;
            timed(
                "token credentials",
                dance.complete_from_callback(&mut http, pending, &location),
            )
            .await
        }
        Callback::OutOfBand => {
            if reply.status != StatusCode::OK || reply.header(header::CONTENT_TYPE) != Some(FORM) {
                return Err(format!("authorize (oob): {reply:?}"));
            }
            let body: Vec<(String, String)> = form_urlencoded::parse(reply.body.as_bytes())
                .into_owned()
                .collect();
            let value = |name: &str| {
                body.iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            if value("oauth_token") != pending.token() {
                return Err(format!("oob body for another token: {body:?}"));
            }
            let verifier = Verifier::new(value("oauth_verifier"));
            timed(
                "token credentials",
                dance.request_token_credentials(&mut http, pending, verifier),
            )
            .await
        }
    };
    credentials.map_err(|e| format!("token credentials: {e:?}"))
}

/// The dance with a callback URL (whose own query needs encoding) and with `oob`, for every
/// signature method, then a signed call to `/resource` with the new token credentials.
async fn dance_then_resource(client: ClientId, callback_kind: &str) {
    bounded(async {
        let provider = start().await;
        let mut failures = Vec::new();
        for method in SignatureMethod::ALL {
            let callback = match callback_kind {
                "oob" => Callback::OutOfBand,
                _ => Callback::Uri(provider.url("/cb?x=a%20b&y=%C3%BC%2B")),
            };
            let credentials = match run_dance(&provider, client, method, &callback).await {
                Ok(credentials) => credentials,
                Err(e) => {
                    failures.push(format!("{method} dance: {e}"));
                    continue;
                }
            };
            let token = TokenCredentials::new(credentials.token(), credentials.secret().clone());
            let mut svc = signing_client(
                signer(client, Some(token), method),
                Placement::Header,
                &provider,
            );
            let reply = send(&mut svc, get(&provider.url("/resource/after-dance?n=1")))
                .await
                .unwrap();
            let expected = json!({
                "client_key": client.key,
                "token": credentials.token(),
                "user": TEST_USER,
                "signature_method": method.name(),
                "signature_type": "auth_header",
                "method": "GET",
                "query": [["n", "1"]],
            });
            if let Err(e) = check_echo(&reply, &expected) {
                failures.push(format!("{method} resource call: {e}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        stop(provider).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dance_with_callback_url_then_resource_call_every_method() {
    dance_then_resource(CLIENT, "uri").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dance_out_of_band_then_resource_call_every_method_special_client() {
    dance_then_resource(SPECIAL, "oob").await;
}

/// Every signature method in one placement, GET with a query and POST with a small form.
async fn every_method_in(placement: Placement, signature_type: &str) {
    bounded(async {
        let provider = start().await;
        let mut failures = Vec::new();
        for method in SignatureMethod::ALL {
            let mut svc = signing_client(
                signer(CLIENT, Some(access_token()), method),
                placement,
                &provider,
            );
            let base = json!({
                "client_key": CLIENT_KEY,
                "token": ACCESS_TOKEN,
                "user": TEST_USER,
                "realms": ["photos"],
                "signature_method": method.name(),
                "signature_type": signature_type,
                "path": "/resource/matrix",
            });
            let with = |extra: Value| {
                let mut expected = base.clone();
                expected
                    .as_object_mut()
                    .unwrap()
                    .extend(extra.as_object().unwrap().clone());
                expected
            };

            let get_request = get(&provider.url("/resource/matrix?a=1&b=two"));
            let refused = refused_locally(method, placement, "GET");
            if let Some(reply) = send_or_refused(&mut svc, get_request, refused, "GET").await {
                let expected = with(json!({
                    "method": "GET", "query": [["a", "1"], ["b", "two"]], "body": [],
                }));
                if let Err(e) = check_echo(&reply, &expected) {
                    failures.push(format!("{method} GET: {e}"));
                }
            }

            let request = post_form(
                &provider.url("/resource/matrix?a=1"),
                "status=hello+world&x=1",
            );
            let refused = refused_locally(method, placement, "POST");
            if let Some(reply) = send_or_refused(&mut svc, request, refused, "POST").await {
                let expected = with(json!({
                    "method": "POST",
                    "query": [["a", "1"]],
                    "body": [["status", "hello world"], ["x", "1"]],
                }));
                if let Err(e) = check_echo(&reply, &expected) {
                    failures.push(format!("{method} POST: {e}"));
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        stop(provider).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_method_header_placement_get_and_post() {
    every_method_in(Placement::Header, "auth_header").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_method_query_placement_get_and_post() {
    every_method_in(Placement::Query, "query").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_method_body_placement_get_and_post() {
    every_method_in(Placement::Body, "body").await;
}

/// Unicode and reserved characters in the path, the query and the form body, with the plain
/// client and with the special client (secret `s3cr%t &+=/ü€`, token secret `t%k3n s3cret/é&=+`),
/// in every placement: the provider verifies the signature and echoes the values exactly.
#[tokio::test(flavor = "multi_thread")]
async fn unicode_and_reserved_characters_round_trip() {
    bounded(async {
        let provider = start().await;
        let cases = [
            (CLIENT, access_token(), SignatureMethod::HmacSha1),
            (SPECIAL, special_access_token(), SignatureMethod::HmacSha256),
            (SPECIAL, special_access_token(), SignatureMethod::HmacSha512),
            (SPECIAL, special_access_token(), SignatureMethod::Plaintext),
            (SPECIAL, special_access_token(), SignatureMethod::RsaSha1),
        ];
        let path = "/resource/r%C3%A9sum%C3%A9%20x";
        // `+` in a query means a space (form decoding, as oauthlib and the signer both do).
        let query = format!(
            "q={}&plus=a+b&sp=a%20b&empty=&dup=2&dup=1&{}={}",
            enc(TRICKY),
            enc("k\u{e9}y&="),
            enc("\u{1f600}")
        );
        let query_echo = [
            ("q", TRICKY),
            ("plus", "a b"),
            ("sp", "a b"),
            ("empty", ""),
            ("dup", "2"),
            ("dup", "1"),
            ("k\u{e9}y&=", "\u{1f600}"),
        ];
        let form_pairs = [
            ("status", "hello world"),
            ("tricky", TRICKY),
            ("plus", "1+1=2"),
            ("pct", "100%"),
            ("\u{20ac}", "\u{fc}"),
        ];
        let body = form(&form_pairs);

        let mut failures = Vec::new();
        for (client, token, method) in cases {
            for (placement, signature_type) in PLACEMENTS {
                let token_key = token.token().to_owned();
                let mut svc = signing_client(
                    signer(client, Some(token.clone()), method),
                    placement,
                    &provider,
                );
                let what = format!("{} {method} {placement:?}", client.key);
                let base = json!({
                    "client_key": client.key,
                    "token": token_key,
                    "signature_method": method.name(),
                    "signature_type": signature_type,
                    "path": path,
                    "query": pairs(&query_echo),
                });

                let url = provider.url(&format!("{path}?{query}"));
                let refused = refused_locally(method, placement, "GET");
                if let Some(reply) = send_or_refused(&mut svc, get(&url), refused, &what).await {
                    let mut expected = base.clone();
                    expected["method"] = json!("GET");
                    expected["body"] = json!([]);
                    if let Err(e) = check_echo(&reply, &expected) {
                        failures.push(format!("{what} GET: {e}"));
                    }
                }

                let refused = refused_locally(method, placement, "POST");
                let request = post_form(&url, &body);
                if let Some(reply) = send_or_refused(&mut svc, request, refused, &what).await {
                    let mut expected = base;
                    expected["method"] = json!("POST");
                    expected["body"] = pairs(&form_pairs);
                    if let Err(e) = check_echo(&reply, &expected) {
                        failures.push(format!("{what} POST: {e}"));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        stop(provider).await;
    })
    .await;
}

/// A request changed after signing (its query, its form body, or one character of
/// `oauth_signature`) is refused by the provider; the same request untouched is accepted.
///
/// PLAINTEXT is the exception for the query and the body: its "signature" is only the two
/// secrets and covers nothing of the request (RFC 5849 §3.4.4, integrity comes from TLS alone),
/// so the provider accepts the changed request, and this test pins that.
#[tokio::test(flavor = "multi_thread")]
async fn tampered_requests_are_rejected() {
    bounded(async {
        let provider = start().await;
        let url = provider.url("/resource/pay?amount=1");
        let tamper_query = |mut req: Request<SignedBody<ReqBody>>| {
            let uri = req.uri().to_string().replace("amount=1", "amount=100");
            *req.uri_mut() = uri.parse().unwrap();
            req
        };
        let tamper_body = |mut req: Request<SignedBody<ReqBody>>| {
            let body = req.body().buffered_bytes().cloned().unwrap_or_default();
            let body = String::from_utf8(body.to_vec())
                .unwrap()
                .replace("to=alice", "to=mallo");
            *req.body_mut() = SignedBody::buffered(Bytes::from(body));
            req
        };

        for method in SignatureMethod::ALL {
            for (placement, _) in PLACEMENTS {
                let signer = signer(CLIENT, Some(access_token()), method);
                let what = format!("{method} {placement:?}");

                let get_refused = refused_locally(method, placement, "GET");
                let post_refused = refused_locally(method, placement, "POST");

                let mut honest = signing_client(signer.clone(), placement, &provider);
                if let Some(reply) =
                    send_or_refused(&mut honest, get(&url), get_refused, &what).await
                {
                    assert_eq!(reply.status, StatusCode::OK, "{what} control: {reply:?}");
                }

                let mut svc = ServiceBuilder::new()
                    .layer(sign_layer(signer.clone(), &provider).placement(placement))
                    .map_request(tamper_query)
                    .service(http_client());
                if let Some(reply) = send_or_refused(&mut svc, get(&url), get_refused, &what).await
                {
                    expect_tamper_outcome(method, &reply, &format!("{what} query"));
                }

                let mut svc = ServiceBuilder::new()
                    .layer(sign_layer(signer.clone(), &provider).placement(placement))
                    .map_request(tamper_body)
                    .service(http_client());
                let request = post_form(&url, "to=alice&memo=rent");
                if let Some(reply) = send_or_refused(&mut svc, request, post_refused, &what).await {
                    expect_tamper_outcome(method, &reply, &format!("{what} body"));
                }
            }

            // One character of the signature flipped (header placement).
            let mut svc = ServiceBuilder::new()
                .layer(sign_layer(
                    signer(CLIENT, Some(access_token()), method),
                    &provider,
                ))
                .map_request(flip_signature_char)
                .service(http_client());
            let reply = send(&mut svc, get(&url)).await.unwrap();
            assert_eq!(
                reply.failed(),
                json!(["signature"]),
                "{method} flip: {reply:?}"
            );
        }
        stop(provider).await;
    })
    .await;
}

/// A request changed after signing is refused for a signature; with PLAINTEXT it is accepted
/// (nothing of the request is signed).
fn expect_tamper_outcome(method: SignatureMethod, reply: &Reply, what: &str) {
    if method == SignatureMethod::Plaintext {
        assert_eq!(reply.status, StatusCode::OK, "{what}: {reply:?}");
    } else {
        assert_eq!(reply.failed(), json!(["signature"]), "{what}: {reply:?}");
    }
}

/// Changes the first character of the `oauth_signature` value in the Authorization header.
fn flip_signature_char(mut req: Request<SignedBody<ReqBody>>) -> Request<SignedBody<ReqBody>> {
    let value = req.headers()[header::AUTHORIZATION]
        .to_str()
        .unwrap()
        .to_owned();
    let marker = "oauth_signature=\"";
    let at = value.find(marker).expect("oauth_signature in the header") + marker.len();
    let old = value.as_bytes()[at];
    let new = if old == b'A' { 'B' } else { 'A' };
    let mut tampered = value.clone();
    tampered.replace_range(at..=at, new.encode_utf8(&mut [0; 4]));
    assert_ne!(tampered, value);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&tampered).unwrap(),
    );
    req
}

/// A random source stuck on one value, so every nonce is the same (for the replay test only).
#[derive(Debug)]
struct StuckRandom;

impl RandomSource for StuckRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        dest.fill(7);
        Ok(())
    }
}

/// The same nonce and timestamp twice: the first request is accepted, the identical second one
/// is refused as a replay; a signer with a working random source is fine again.
#[tokio::test(flavor = "multi_thread")]
async fn replayed_nonce_is_rejected() {
    bounded(async {
        let provider = start().await;
        let clock = ManualClock::new(SystemTime::now());
        for (placement, _) in PLACEMENTS {
            for (i, method) in [SignatureMethod::HmacSha1, SignatureMethod::RsaSha256]
                .into_iter()
                .enumerate()
            {
                // The provider keys nonces by (client, timestamp, nonce, token), and every
                // case here has the same stuck nonce: a new second per case keeps the cases
                // apart, so only the repeat inside a case is a replay.
                clock.advance(Duration::from_secs(1));
                let stuck = signer_builder(CLIENT, Some(access_token()), method)
                    .random(StuckRandom)
                    .clock(clock.clone())
                    .build()
                    .unwrap();
                let mut svc = signing_client(stuck, placement, &provider);
                let url = provider.url(&format!("/resource/replay{i}?x=1"));
                let what = format!("{method} {placement:?}");

                let first = send(&mut svc, post_form(&url, "a=b")).await.unwrap();
                assert_eq!(first.status, StatusCode::OK, "{what}: {first:?}");
                let second = send(&mut svc, post_form(&url, "a=b")).await.unwrap();
                assert_eq!(second.failed(), json!(["nonce"]), "{what}: {second:?}");

                let mut fresh = signing_client(
                    signer(CLIENT, Some(access_token()), method),
                    placement,
                    &provider,
                );
                let third = send(&mut fresh, post_form(&url, "a=b")).await.unwrap();
                assert_eq!(third.status, StatusCode::OK, "{what}: {third:?}");
            }
        }
        stop(provider).await;
    })
    .await;
}

/// A denial at `/authorize?...&deny=1` becomes the dance's typed error, and the denied request
/// token cannot be exchanged afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn denial_is_a_typed_dance_error() {
    bounded(async {
        let provider = start().await;
        let dance = dance(&provider, CLIENT, SignatureMethod::HmacSha256);
        let mut http = common::client();

        // With a callback: the provider redirects with oauth_problem=permission_denied.
        let callback = Callback::Uri(provider.url("/cb?state=1"));
        let pending = timed("temporary credentials", async {
            dance
                .request_temporary_credentials(&mut http, &callback)
                .await
                .unwrap()
        })
        .await;
        let url = pending
            .authorization_url(&provider.url("/authorize"))
            .unwrap();
        let reply = send(&mut http, get(&format!("{url}&deny=1")))
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
        let location: Uri = reply.header(header::LOCATION).unwrap().parse().unwrap();
        assert_eq!(
            pending.verifier_from_callback(&location).unwrap_err(),
            CallbackError::Denied
        );
        let err = timed(
            "token credentials",
            dance.complete_from_callback(&mut http, pending, &location),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, DanceError::Callback(CallbackError::Denied)),
            "{err:?}"
        );

        // Out of band: the resource owner sees a 403 and has no verifier; the denied request
        // token is gone, so an exchange with a guessed verifier is the provider's 401.
        let pending = timed("temporary credentials", async {
            dance
                .request_temporary_credentials(&mut http, &Callback::OutOfBand)
                .await
                .unwrap()
        })
        .await;
        let url = pending
            .authorization_url(&provider.url("/authorize"))
            .unwrap();
        let reply = send(&mut http, get(&format!("{url}&deny=1")))
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
        assert!(
            reply.body.contains("oauth_problem=permission_denied"),
            "{reply:?}"
        );
        let err = timed(
            "token credentials",
            dance.request_token_credentials(&mut http, pending, Verifier::new("guessed")),
        )
        .await
        .unwrap_err();
        let DanceError::Provider(problem) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(problem.status(), StatusCode::UNAUTHORIZED, "{err:?}");
        stop(provider).await;
    })
    .await;
}

/// Without the explicit opt-in, a PLAINTEXT signer refuses plain http in the layer: a typed
/// error, and nothing reaches the provider.
#[tokio::test(flavor = "multi_thread")]
async fn plaintext_over_http_without_opt_in_is_refused_before_sending() {
    bounded(async {
        let provider = start().await;
        let signer = Signer::builder(ClientCredentials::new(
            CLIENT_KEY,
            ConsumerSecret::new(CLIENT_SECRET),
        ))
        .token(access_token())
        .method(SignatureMethod::Plaintext)
        .build()
        .unwrap();
        let mut svc = signing_client(signer, Placement::Header, &provider);
        let err = send(&mut svc, get(&provider.url("/resource")))
            .await
            .unwrap_err();
        let err = err
            .downcast_ref::<SignRequestError>()
            .unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(err.kind(), SignRequestErrorKind::Signer);
        assert!(!format!("{err} {err:?}").contains(CLIENT_SECRET));

        let mut plain = common::client();
        let stats = send(&mut plain, get(&provider.url("/test/stats")))
            .await
            .unwrap()
            .json();
        assert_eq!(stats.get("resource_ok"), None, "{stats}");
        assert_eq!(stats.get("resource_fail"), None, "{stats}");
        stop(provider).await;
    })
    .await;
}

/// The hyper client can be shared: one `Sign` service used from several tasks at once.
#[tokio::test(flavor = "multi_thread")]
async fn one_signed_client_used_concurrently() {
    bounded(async {
        let provider = start().await;
        let svc = signing_client(
            signer(CLIENT, Some(access_token()), SignatureMethod::HmacSha256),
            Placement::Header, &provider);
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let mut svc = svc.clone();
                let url = provider.url(&format!("/resource/c?i={i}"));
                tokio::spawn(async move {
                    let reply = if i % 2 == 0 {
                        send(&mut svc, get(&url)).await
                    } else {
                        send(&mut svc, post_form(&url, &form(&[("n", &i.to_string())]))).await
                    };
                    (i, reply.unwrap())
                })
            })
            .collect();
        for task in tasks {
            let (i, reply) = task.await.unwrap();
            let expected = json!({"query": [["i", i.to_string()]], "method": if i % 2 == 0 { "GET" } else { "POST" }});
            check_echo(&reply, &expected).unwrap_or_else(|e| panic!("{i}: {e}"));
        }
        stop(provider).await;
    })
    .await;
}

/// A small xorshift64* generator: the differential test below is the same on every run.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Parameter names of the generated queries and forms: few, so that names repeat.
///
/// Never `oauth_*` (the signer refuses those, RFC 5849 §3.1; `OAUTH_token` is not one, the
/// prefix is case-sensitive). Never `realm` either: RFC 5849
/// §3.4.1.3.1 excludes only the Authorization header's `realm` from the signature, but
/// oauthlib's `BaseEndpoint._create_request` drops *every* parameter named `realm` (query and
/// body ones too) from the signed parameters whenever the header text contains `realm`, and
/// reports a query or body `realm` as the request's realm; so a request with a header realm and
/// a query `realm=x` fails there though it is signed per the RFC.
const DIFF_NAMES: [&str; 17] = [
    "a",
    "a-",
    "n&=",
    "A",
    "dup",
    "dup",
    "q",
    "k\u{e9}y",
    "x y",
    "a+b",
    "100%",
    "\u{1f600}",
    "semi;",
    "!*'()",
    "",
    "OAUTH_token",
    "xoauth_y",
];

/// Values of the generated queries and forms.
const DIFF_VALUES: [&str; 16] = [
    "",
    "1",
    "2",
    "a b",
    "1+1=2",
    "100%",
    "\u{fc}\u{20ac}",
    "a&b=c",
    "/x?y#z",
    "~-._",
    "!*'();:@$,",
    "\u{1f600}",
    "%2B",
    "+",
    " lead",
    "trail ",
];

/// Path segments after `/resource` (sent as they are; both sides sign the path as sent).
const DIFF_SEGMENTS: [&str; 13] = [
    ".",
    "..",
    "plain",
    "r%C3%A9sum%C3%A9",
    "caf%c3%a9",
    "a%20b",
    "a%2Fb",
    "a%2fb",
    "%7Euser",
    "x;y=1",
    "!$&'()*+,;=:@",
    "%25",
    "",
];

/// Realms for the Authorization header (RFC 5849 §3.5.1, a quoted-string, not signed).
const DIFF_REALMS: [&str; 7] = [
    "photos",
    "Example",
    "http://127.0.0.1/",
    "a b,c=d",
    "",
    "100%",
    "a%20b",
];

/// Writes `s` for a query or form body in one of several legal ways; all decode to `s` the
/// `application/x-www-form-urlencoded` way (RFC 5849 §3.4.1.3.1).
///
/// Characters outside RFC 3986's query set (space, `[`, `|`, `"`, non-ASCII, ...) are always
/// escaped. The signer reads such a character as itself, but oauthlib's `urldecode` refuses a
/// query or form body that has one literally: a query fails with a 500, a form body is ignored
/// (its parameters left out of the base string, so a 401). RFC 5849 §3.4.1.3.1 signs a body's
/// parameters only if it "follows the encoding requirements" of HTML 4.0 forms, which such a
/// body does not, so neither side is plainly wrong; clients should escape them.
fn diff_encode(rng: &mut XorShift, s: &str) -> String {
    match rng.below(5) {
        // RFC 3986 / RFC 5849 §3.6: everything but the unreserved characters escaped.
        0 => enc(s),
        // The HTML form way: a space is `+`, `+` is `%2B`.
        1 => form_urlencoded::byte_serialize(s.as_bytes()).collect(),
        // Lower-case hex digits.
        2 => {
            let mut out = String::new();
            let mut hex_left = 0;
            for c in enc(s).chars() {
                if c == '%' {
                    hex_left = 2;
                    out.push(c);
                } else if hex_left > 0 {
                    hex_left -= 1;
                    out.push(c.to_ascii_lowercase());
                } else {
                    out.push(c);
                }
            }
            out
        }
        // Only what must be escaped: the sub-delimiters, `:`, `@`, `/` and `?` stay literal.
        3 => {
            let mut out = String::new();
            for b in s.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~!$'()*,;:@/?".contains(&b) {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        }
        // Every byte escaped, unreserved ones too.
        _ => s.bytes().map(|b| format!("%{b:02X}")).collect(),
    }
}

/// Up to `max` parameters as a query or form string, and the pairs the provider must echo.
fn diff_params(rng: &mut XorShift, max: usize) -> (String, Vec<(String, String)>) {
    let mut parts = Vec::new();
    let mut echo = Vec::new();
    for _ in 0..rng.below(max + 1) {
        let name = rng.pick(&DIFF_NAMES);
        let value = rng.pick(&DIFF_VALUES);
        let raw_name = diff_encode(rng, name);
        let part = match rng.below(8) {
            // A name without `=`: an empty value.
            0 if value.is_empty() && !name.is_empty() => raw_name,
            // A literal `+` is a space.
            1 if value.contains(' ') => format!("{raw_name}={}", enc(value).replace("%20", "+")),
            // A literal `=` in a value: only the first `=` separates.
            2 if value.contains('=') => {
                let raw = diff_encode(rng, value)
                    .replace("%3D", "=")
                    .replace("%3d", "=");
                format!("{raw_name}={raw}")
            }
            _ => format!("{raw_name}={}", diff_encode(rng, value)),
        };
        parts.push(part);
        echo.push((name.to_owned(), value.to_owned()));
        // The same parameter twice.
        if rng.one_in(6) {
            parts.push(parts.last().unwrap().clone());
            echo.push(echo.last().unwrap().clone());
        }
        // An empty pair (`&&`): nothing.
        if rng.one_in(10) {
            parts.push(String::new());
        }
    }
    (parts.join("&"), echo)
}

/// `oauth_callback` values of the generated temporary-credential requests (the provider takes
/// `oob` and loopback URIs), with reserved, escaped and non-ASCII characters.
const DIFF_CALLBACKS: [&str; 7] = [
    "oob",
    "http://127.0.0.1/cb",
    "http://127.0.0.1:8080/cb?x=a%20b&y=%C3%BC%2B",
    "http://localhost/cb?a=1+2&b=%2B&c=!*'()&d=%25",
    "http://127.0.0.1/r%C3%A9sum%C3%A9/cb;p=1?q=~&r=",
    "http://127.0.0.1/cb?\u{fc}=\u{20ac}&e=a&e=a",
    "http://[::1]/cb?x=%2F%3F",
];

/// Realms the provider accepts on `/request_token` (space-separated, oauthlib's reading).
const DIFF_TOKEN_REALMS: [&str; 4] = ["photos", "Example", "http://127.0.0.1/", "photos printer"];

/// One temporary-credential request (RFC 5849 §2.1) of a random shape, signed by
/// `Signer::sign` with `oauth_callback` in the header, the query or the form body; the provider
/// must verify it and issue credentials. `Err` describes the case.
async fn diff_request_token(
    rng: &mut XorShift,
    authority: &str,
    client: ClientId,
    method: SignatureMethod,
) -> Result<(), String> {
    let mut placements = vec![Placement::Header, Placement::Body];
    if method != SignatureMethod::Plaintext {
        placements.push(Placement::Query);
    }
    let placement = rng.pick(&placements);
    let callback = rng.pick(&DIFF_CALLBACKS);
    let realm =
        (placement == Placement::Header && rng.one_in(3)).then(|| rng.pick(&DIFF_TOKEN_REALMS));
    let (query, _) = diff_params(rng, 3);
    let (form, _) = diff_params(rng, 3);
    let url = if query.is_empty() {
        format!("http://{authority}/request_token")
    } else {
        format!("http://{authority}/request_token?{query}")
    };
    let what = format!(
        "{url} {method} {placement:?} client {} callback {callback:?} realm {realm:?} \
         body {form:?}",
        client.key
    );
    let uri: Uri = url.parse().map_err(|e| format!("{what}: {e}"))?;
    let mut options = oauth_core::oauth1::SignOptions::new().callback(callback);
    if let Some(realm) = realm {
        options = options.realm(realm);
    }
    let signed = signer(client, None, method)
        .sign(
            &http::Method::POST,
            &uri,
            Some(form.as_bytes()),
            &options,
            placement,
        )
        .map_err(|e| format!("{what}: not signed: {e:?}"))?;
    let builder = Request::post(signed.uri().unwrap_or(&uri)).header(header::CONTENT_TYPE, FORM);
    let (builder, body) = match placement {
        Placement::Header => (
            builder.header(header::AUTHORIZATION, signed.authorization().unwrap()),
            form.clone().into_bytes(),
        ),
        Placement::Body => (builder, signed.body().unwrap().to_vec()),
        _ => (builder, form.clone().into_bytes()),
    };
    let request = builder.body(Full::new(Bytes::from(body))).unwrap();
    let reply = send(&mut common::client(), request)
        .await
        .map_err(|e| format!("{what}: not sent: {e:?}"))?;
    if reply.status == StatusCode::OK && reply.body.contains("oauth_callback_confirmed=true") {
        Ok(())
    } else {
        Err(format!("{what}: {} {}", reply.status, reply.body))
    }
}

fn pairs_owned(list: &[(String, String)]) -> Value {
    Value::Array(list.iter().map(|(k, v)| json!([k, v])).collect())
}

/// Randomized differential test against oauthlib: a few hundred requests of varied shapes
/// (method, placement, signature method, client, host and port form, path, query, form body,
/// `Content-Type`, header realm), each signed by our signer, must verify at the provider, and
/// the provider's echo of what it received must be what was sent. The generator has a fixed
/// seed; a failure lists each case's shape, so it can be replayed by hand.
#[tokio::test(flavor = "multi_thread")]
async fn randomized_requests_verify_at_oauthlib() {
    const CASES: usize = 300;
    bounded(async {
        let provider = start().await;
        let port = provider
            .base_url()
            .parse::<Uri>()
            .unwrap()
            .port_u16()
            .unwrap();
        let origins = ["127.0.0.1", "localhost"]
            .map(|host| format!("http://{host}:{port}").parse::<Origin>().unwrap());
        // The provider's authority in several forms: both sides sign the lower-cased host and the
        // port as a number, without user information (RFC 5849 §3.4.1.2). A default port (left
        // out of the base string) is impossible on loopback.
        let authorities = [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("LocalHost:{port}"),
            format!("127.0.0.1:0{port}"),
            format!("user:pw@127.0.0.1:{port}"),
        ];
        let clients = [(CLIENT, access_token()), (SPECIAL, special_access_token())];
        let mut rng = XorShift(0x0a17_5eed_1234_9876);
        let mut failures = Vec::new();

        for case in 0..CASES {
            let (client, token) = clients[rng.below(clients.len())].clone();
            let method = rng.pick(&SignatureMethod::ALL);
            // Now and then a temporary-credential request with a callback instead.
            if rng.one_in(8) {
                let authority = rng.pick(&authorities.each_ref());
                if let Err(e) = diff_request_token(&mut rng, authority, client, method).await {
                    failures.push(format!("case {case}: {e}"));
                }
                continue;
            }
            let http_method = rng.pick(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]);
            // Body placement needs a method with a body (the signer refuses it on GET and
            // DELETE); PLAINTEXT never goes in the query (it is the secrets).
            let mut placements = vec![Placement::Header];
            if method != SignatureMethod::Plaintext {
                placements.push(Placement::Query);
            }
            if matches!(http_method, "POST" | "PUT" | "PATCH") {
                placements.push(Placement::Body);
            }
            let placement = rng.pick(&placements);
            // A header realm (`SignLayer::realm`): the same draws as when it was set through
            // `SignOptions::realm`, which had no `Host` header nor body hash, so the cases stay
            // the same.
            let realm =
                (placement == Placement::Header && rng.one_in(5)).then(|| rng.pick(&DIFF_REALMS));

            let authority = rng.pick(&authorities.each_ref()).clone();
            let mut path = String::from("/resource");
            for _ in 0..rng.below(3) {
                path.push('/');
                path.push_str(rng.pick(&DIFF_SEGMENTS));
            }
            let (query, query_echo) = diff_params(&mut rng, 5);
            let scheme = if rng.one_in(4) { "HTTP" } else { "http" };
            let mut url = match rng.below(6) {
                0 if query.is_empty() => format!("{scheme}://{authority}{path}"),
                1 if query.is_empty() => format!("{scheme}://{authority}{path}?"),
                _ => format!("{scheme}://{authority}{path}?{query}"),
            };
            // A fragment is not sent, and not signed (RFC 5849 §3.4.1.2).
            if rng.one_in(8) {
                url.push_str("#frag%20x?y=1");
            }
            // A `Host` header naming the provider, maybe by another name than the URI, or naming
            // a default port (none, `:80`, `:0080`: left out of the base string by both sides,
            // RFC 5849 §3.4.1.2): the request is signed for the `Host`, which the provider builds
            // its base string URI from. Only through the layer (`Signer::sign` signs an absolute
            // URI for its own authority), and never with user information (RFC 9110 §7.2: the
            // signer refuses such a `Host`).
            let host = (realm.is_none() && rng.one_in(5)).then(|| match rng.below(7) {
                4 => "localhost".to_owned(),
                5 => "127.0.0.1:80".to_owned(),
                6 => "LocalHost:0080".to_owned(),
                i => authorities[i].clone(),
            });

            // The body: a form (its parameters are signed), or for header and query placement
            // sometimes a body that is not a form (not signed, and not read by the provider).
            // The form media type is always written in lower case: it is case-insensitive (RFC
            // 9110 §8.3.1), and the signer signs the parameters of an
            // `Application/X-WWW-Form-URLEncoded` body as RFC 5849 §3.4.1.3.1 asks, but oauthlib's
            // `_create_request` looks for the lower-case string in the header and otherwise
            // ignores the body, so it computes another base string.
            let (content_type, body, body_echo) =
                if http_method == "HEAD" || (http_method == "GET" && !rng.one_in(4)) {
                    (None, String::new(), Vec::new())
                } else {
                    match rng.below(6) {
                        0 => (None, String::new(), Vec::new()),
                        1 if placement != Placement::Body => {
                            (Some("text/plain"), "a=b&c=d".to_owned(), Vec::new())
                        }
                        kind => {
                            let (body, echo) = diff_params(&mut rng, 5);
                            let content_type = match kind {
                                2 => "application/x-www-form-urlencoded; charset=UTF-8",
                                _ => FORM,
                            };
                            (Some(content_type), body, echo)
                        }
                    }
                };

            let what = format!(
                "case {case}: {http_method} {url} {method} {placement:?} client {} host {host:?} \
                 content-type {content_type:?} body {body:?} realm {realm:?}",
                client.key
            );
            let mut builder = Request::builder().method(http_method).uri(&url);
            if let Some(content_type) = content_type {
                builder = builder.header(header::CONTENT_TYPE, content_type);
            }
            if let Some(host) = &host {
                builder = builder.header(header::HOST, host);
            }
            // `oauth_body_hash` (on bodies that are not forms) is one more protocol parameter to
            // oauthlib, which signs it without checking it.
            let body_hash = realm.is_none() && rng.one_in(3);
            let what = format!("{what} body hash {body_hash}");
            let signer = signer(client, Some(token.clone()), method);
            let mut layer = SignLayer::new(signer)
                .allowed_origins(origins.clone())
                .dangerous_allow_http_loopback()
                .placement(placement)
                .body_hash(body_hash);
            if let Some(realm) = realm {
                layer = layer.realm(Realm::new(realm).unwrap());
            }
            let mut svc = ServiceBuilder::new().layer(layer).service(http_client());
            let request = builder.body(Full::new(Bytes::from(body.clone()))).unwrap();
            let reply = send(&mut svc, request).await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(e) => {
                    failures.push(format!("{what}: not sent: {e:?}"));
                    continue;
                }
            };
            let (_, signature_type) = PLACEMENTS.iter().find(|(p, _)| *p == placement).unwrap();
            let expected = json!({
                "client_key": client.key,
                "token": token.token(),
                "signature_method": method.name(),
                "signature_type": signature_type,
                "method": http_method,
                "path": path,
                "realm": realm,
                "query": pairs_owned(&query_echo),
                "body": pairs_owned(&body_echo),
            });
            // A HEAD reply has no body to echo: its status says the request verified.
            if http_method == "HEAD" {
                if reply.status != StatusCode::OK {
                    failures.push(format!("{what}: {}", reply.status));
                }
            } else if let Err(e) = check_echo(&reply, &expected) {
                failures.push(format!("{what}: {e}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {CASES} failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
        stop(provider).await;
    })
    .await;
}

/// `SignLayer::realm` (requests-oauthlib's `OAuth1(..., realm=...)`): every signature method
/// opens the resource with the realm first in the header, and oauthlib reads it back as sent
/// (a quoted string: spaces, `/`, `%`, `,` and `=` are literal); with query or body placement
/// the layer refuses the request before anything is sent, and a text that cannot be a realm
/// is refused by `Realm::new`.
#[tokio::test(flavor = "multi_thread")]
async fn layer_realm_reaches_the_resource() {
    bounded(async {
        let provider = start().await;
        let mut failures = Vec::new();
        for (i, method) in SignatureMethod::ALL.into_iter().enumerate() {
            let realm = ["photos", "http://127.0.0.1/ 100%, a=b"][i % 2];
            let layer = sign_layer(signer(CLIENT, Some(access_token()), method), &provider)
                .realm(Realm::new(realm).unwrap());
            let mut svc = ServiceBuilder::new().layer(layer).service(http_client());
            for (request, http_method, body) in [
                (get(&provider.url("/resource?n=1")), "GET", json!([])),
                (
                    post_form(&provider.url("/resource?n=1"), "b=2"),
                    "POST",
                    json!([["b", "2"]]),
                ),
            ] {
                let reply = send(&mut svc, request).await.unwrap();
                let expected = json!({
                    "client_key": CLIENT_KEY,
                    "token": ACCESS_TOKEN,
                    "signature_method": method.name(),
                    "signature_type": "auth_header",
                    "method": http_method,
                    "realm": realm,
                    "query": [["n", "1"]],
                    "body": body,
                });
                if let Err(e) = check_echo(&reply, &expected) {
                    failures.push(format!("{method} {http_method} realm {realm:?}: {e}"));
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");

        // The realm is a header parameter only: query and body placement are refused.
        for placement in [Placement::Query, Placement::Body] {
            let layer = sign_layer(
                signer(CLIENT, Some(access_token()), SignatureMethod::HmacSha1),
                &provider,
            )
            .placement(placement)
            .realm(Realm::new("photos").unwrap());
            let mut svc = ServiceBuilder::new().layer(layer).service(http_client());
            let request = post_form(&provider.url("/resource"), "b=2");
            send_or_refused(
                &mut svc,
                request,
                Some(SignRequestErrorKind::RealmNeedsHeaderPlacement),
                &format!("{placement:?}"),
            )
            .await;
        }
        let stats = send(&mut common::client(), get(&provider.url("/test/stats")))
            .await
            .unwrap()
            .json();
        assert_eq!(
            stats["resource_ok"],
            json!(2 * SignatureMethod::ALL.len()),
            "{stats}"
        );
        assert_eq!(stats.get("resource_fail"), None, "{stats}");

        for bad in ["say \"hi\"", "tab\there", "caf\u{e9}", "a\\b"] {
            assert!(
                matches!(Realm::new(bad), Err(tower_oauth1::InvalidRealm { .. })),
                "{bad:?}"
            );
        }
        stop(provider).await;
    })
    .await;
}

/// `Dance::realm` (requests-oauthlib's `OAuth1Session(realm=...)`): oauthlib takes the realm of
/// the temporary-credential request as the space-separated realms the token is for, so a dance
/// with allowed realms completes and its token credentials carry them to the resource (where a
/// layer with the same realm echoes it); a realm the provider does not know is its 400
/// `invalid_request`, the dance's `Provider` error, and issues nothing.
#[tokio::test(flavor = "multi_thread")]
async fn dance_realm_is_sent_and_checked_by_the_provider() {
    bounded(async {
        let provider = start().await;
        let mut failures = Vec::new();
        for (realm, realms, callback) in [
            (
                "printer",
                json!(["printer"]),
                Callback::Uri(provider.url("/cb?state=1")),
            ),
            (
                "photos printer",
                json!(["photos", "printer"]),
                Callback::OutOfBand,
            ),
        ] {
            for method in [SignatureMethod::HmacSha1, SignatureMethod::RsaSha256] {
                let dance = dance(&provider, CLIENT, method).realm(Realm::new(realm).unwrap());
                let credentials = match run_this_dance(&provider, &dance, &callback).await {
                    Ok(credentials) => credentials,
                    Err(e) => {
                        failures.push(format!("{method} realm {realm:?} dance: {e}"));
                        continue;
                    }
                };
                let token =
                    TokenCredentials::new(credentials.token(), credentials.secret().clone());
                let layer = sign_layer(signer(CLIENT, Some(token), method), &provider)
                    .realm(Realm::new(realm).unwrap());
                let mut svc = ServiceBuilder::new().layer(layer).service(http_client());
                let reply = send(&mut svc, get(&provider.url("/resource")))
                    .await
                    .unwrap();
                let expected = json!({
                    "client_key": CLIENT_KEY,
                    "token": credentials.token(),
                    "user": TEST_USER,
                    "realms": realms,
                    "realm": realm,
                    "signature_type": "auth_header",
                });
                if let Err(e) = check_echo(&reply, &expected) {
                    failures.push(format!("{method} realm {realm:?} resource: {e}"));
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");

        // A realm the provider does not know ("photos" is allowed, "admin" is not).
        let mut http = common::client();
        for realm in ["admin", "photos admin"] {
            let dance = dance(&provider, CLIENT, SignatureMethod::HmacSha1)
                .realm(Realm::new(realm).unwrap());
            let err = timed(
                "temporary credentials",
                dance.request_temporary_credentials(&mut http, &Callback::OutOfBand),
            )
            .await
            .unwrap_err();
            let DanceError::Provider(problem) = &err else {
                panic!("{realm:?}: {err:?}")
            };
            assert_eq!(
                problem.status(),
                StatusCode::BAD_REQUEST,
                "{realm:?}: {err:?}"
            );
        }
        let stats = send(&mut http, get(&provider.url("/test/stats")))
            .await
            .unwrap()
            .json();
        assert_eq!(stats["request_token_ok"], json!(4), "{stats}");
        assert_eq!(stats["access_token_ok"], json!(4), "{stats}");
        stop(provider).await;
    })
    .await;
}
