//! Is what the SignLayer sends what it signed? Each request the inner service receives is
//! verified as a provider would (oauth-core's verifier, from what goes on the wire: the `Host`
//! header when one is set, RFC 5849 §3.4.1.2). Also: an upper-case `HTTP` scheme is plain http,
//! a buffered body keeps its trailers, `Debug` of a signed body shows no secret, and the dance
//! reports a runtime without timers instead of panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body_util::channel::Channel;
use http_body_util::{BodyExt, Full};
use oauth_core::clock::{CountingRandom, ManualClock};
use oauth_core::oauth1::{
    ClientCredentials, IncomingRequest, Origin, Placement, Signer, SigningSecrets,
    TokenCredentials, UnverifiedRequest, VerifyKey, is_form_content_type,
};
use oauth_core::secret::{ConsumerSecret, TokenSecret};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_oauth1::sign::{SignRequestError, SignRequestErrorKind};
use tower_oauth1::{BoxError, SignLayer, SignedBody};

const CS: &str = "SENTINEL-cs";
const TS: &str = "SENTINEL-ts";

fn signer() -> Signer {
    Signer::builder(ClientCredentials::new("key", ConsumerSecret::new(CS)))
        .token(TokenCredentials::new("tok", TokenSecret::new(TS)))
        .clock(ManualClock::at_unix_seconds(1_318_622_958))
        .random(CountingRandom::new(1))
        .build()
        .unwrap()
}

/// What reached the inner service: method, URI, headers, body bytes, trailers.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn recorder<B>() -> (
    Log,
    impl Service<Request<SignedBody<B>>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone,
)
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
    B::Data: Send,
{
    let log: Log = Arc::default();
    let l = Arc::clone(&log);
    let svc = service_fn(move |req: Request<SignedBody<B>>| {
        let l = Arc::clone(&l);
        async move {
            let (parts, body) = req.into_parts();
            let collected = body.collect().await.unwrap();
            let trailers = collected.trailers().cloned();
            l.lock().unwrap().push(Seen {
                method: parts.method,
                uri: parts.uri,
                headers: parts.headers,
                body: collected.to_bytes(),
                trailers,
            });
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }
    });
    (log, svc)
}

/// Verifies `seen` as the provider sees it: the request target in origin form, with the scheme
/// and the `Host` header it arrived with when a `Host` header is set (RFC 5849 §3.4.1.2: "the
/// host ... MUST match the content of the HTTP request Host header"), the absolute URI otherwise.
fn provider_verifies(seen: &Seen) -> Result<(), String> {
    let auth = seen.headers.get(AUTHORIZATION).map(|v| v.to_str().unwrap());
    let form = seen
        .headers
        .get(CONTENT_TYPE)
        .is_some_and(is_form_content_type)
        .then_some(&seen.body[..]);
    let origin_form: Uri;
    let mut incoming;
    if let Some(host) = seen.headers.get(HOST) {
        origin_form = seen.uri.path_and_query().unwrap().as_str().parse().unwrap();
        incoming = IncomingRequest::new(&seen.method, &origin_form).origin(Origin::new(
            seen.uri.scheme_str().unwrap(),
            host.to_str().unwrap(),
        ));
    } else {
        incoming = IncomingRequest::new(&seen.method, &seen.uri);
    }
    if let Some(auth) = auth {
        incoming = incoming.authorization(auth);
    }
    if let Some(form) = form {
        incoming = incoming.form_body(form);
    }
    let parsed = UnverifiedRequest::parse(incoming).map_err(|e| format!("parse: {e}"))?;
    let base = parsed.base_string();
    let cs = ConsumerSecret::new(CS);
    let ts = TokenSecret::new(TS);
    parsed
        .verify(VerifyKey::Secrets(SigningSecrets {
            consumer_secret: &cs,
            token_secret: Some(&ts),
        }))
        .map(|_| ())
        .map_err(|e| format!("verify: {e}; provider's base string: {base}"))
}

fn kind(error: &BoxError) -> Option<SignRequestErrorKind> {
    error.downcast_ref::<SignRequestError>().map(|e| e.kind())
}

// ---------------------------------------------------------------------------------------------
// A caller-set Host header: hyper-util's legacy Client keeps a Host header the caller set
// (`headers.entry(HOST).or_insert_with(..)`), and the provider builds the base string URI from
// that Host header (RFC 5849 §3.4.1.2), so that is what is signed (the layer used to sign the
// URI's authority: signature_invalid).
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn a_host_header_naming_another_authority_is_what_is_signed() {
    use tower_oauth1::sign::Placement;
    // Connect to an address, name the virtual host: a common pattern (pinned IP, a load
    // balancer, a test server), in each placement.
    let address: tower_oauth1::sign::Origin = "https://203.0.113.7".parse().unwrap();
    for placement in [Placement::Header, Placement::Query, Placement::Body] {
        let (log, client) = recorder::<Full<Bytes>>();
        // Without an allowlist, refused: a redirect hop would keep the Host (see the test of
        // FollowRedirect below).
        let mut svc = SignLayer::new(signer())
            .placement(placement)
            .layer(client.clone());
        let req = Request::post("https://203.0.113.7/1/items?a=1")
            .header(HOST, "API.example.com:443")
            .body(Full::<Bytes>::default())
            .unwrap();
        let error = svc.ready().await.unwrap().call(req).await.unwrap_err();
        assert_eq!(
            kind(&error),
            Some(SignRequestErrorKind::HostNeedsAllowedOrigins)
        );
        assert!(log.lock().unwrap().is_empty());
        let mut svc = SignLayer::new(signer())
            .placement(placement)
            .allowed_origins([address.clone()])
            .layer(client);
        let req = Request::post("https://203.0.113.7/1/items?a=1")
            .header(HOST, "API.example.com:443")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(b"b=2")))
            .unwrap();
        svc.ready().await.unwrap().call(req).await.unwrap();
        let seen = log.lock().unwrap()[0].clone();
        assert_eq!(seen.headers[HOST], "API.example.com:443", "{placement:?}");
        assert_eq!(
            seen.uri.authority().unwrap(),
            "203.0.113.7",
            "{placement:?}: sent to the URI's address"
        );
        provider_verifies(&seen).unwrap_or_else(|e| panic!("{placement:?}: {e}"));
    }
    // A Host that names the URI's own authority (other case, explicit default port) changes
    // nothing; one that is not an authority is refused.
    let (log, client) = recorder::<Full<Bytes>>();
    let mut svc = SignLayer::new(signer()).layer(client);
    let req = Request::get("https://api.example.com/r")
        .header(HOST, "API.EXAMPLE.COM:443")
        .body(Full::<Bytes>::default())
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    provider_verifies(&log.lock().unwrap()[0]).unwrap();
    for bad in ["user@api.example.com", "api.example.com/path", "a b"] {
        let req = Request::get("https://api.example.com/r")
            .header(HOST, bad)
            .body(Full::<Bytes>::default())
            .unwrap();
        let error = svc.ready().await.unwrap().call(req).await.unwrap_err();
        assert_eq!(
            kind(&error),
            Some(SignRequestErrorKind::InvalidHost),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// An upper-case `HTTP` scheme built with `Uri::builder()` (or `Scheme::try_from`) is
// `Scheme::Other("HTTP")`, which is `!= Scheme::HTTP`: the InsecureTransport check compared
// with `Scheme::HTTP` and did not fire, while oauth-core's BaseUri takes the scheme
// case-insensitively as http and signed it. It is refused like `http://` now.
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn an_upper_case_http_scheme_is_refused_like_http() {
    let (log, client) = recorder::<Full<Bytes>>();
    let mut svc = SignLayer::new(signer()).layer(client);

    // The lower-case spelling is refused, as documented.
    let req = Request::get("http://api.example.com/r")
        .body(Full::<Bytes>::default())
        .unwrap();
    let e = svc.ready().await.unwrap().call(req).await.unwrap_err();
    assert_eq!(kind(&e), Some(SignRequestErrorKind::InsecureTransport));

    let uri = Uri::builder()
        .scheme("HTTP")
        .authority("api.example.com")
        .path_and_query("/r")
        .build()
        .unwrap();
    // http before 1.6 keeps this as `Scheme::Other("HTTP")`; 1.6 normalises it to
    // `Scheme::HTTP`. Either way it must be refused.
    assert!(
        uri.scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
    );
    let req = Request::get(uri).body(Full::<Bytes>::default()).unwrap();
    let result = svc.ready().await.unwrap().call(req).await;
    let sent = log.lock().unwrap().clone();
    assert!(
        matches!(&result, Err(e) if kind(e) == Some(SignRequestErrorKind::InsecureTransport)),
        "an HTTP:// request must be refused like http://; got {:?}; the inner service received: {:?}",
        result.as_ref().map(|_| "Ok(response)"),
        sent.iter()
            .map(|s| (s.uri.to_string(), s.headers.contains_key(AUTHORIZATION)))
            .collect::<Vec<_>>(),
    );
}

// ---------------------------------------------------------------------------------------------
// A buffered body keeps its trailers (they used to be dropped; the docs say the same body
// is sent on).
// ---------------------------------------------------------------------------------------------
type Chan = Channel<Bytes, Infallible>;

/// A body of `data` then a trailer `x-checksum: abc`, sent from a task.
fn body_with_trailers(data: &'static [u8]) -> Chan {
    let (mut tx, body) = Chan::new(2);
    tokio::spawn(async move {
        tx.send_data(Bytes::from_static(data)).await.unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", "abc".parse().unwrap());
        tx.send_trailers(trailers).await.unwrap();
    });
    body
}

#[tokio::test]
async fn a_buffered_body_keeps_its_trailers() {
    // (a) oauth_body_hash on a JSON body: the body is buffered to hash it.
    let (log, client) = recorder::<Chan>();
    let mut svc = SignLayer::new(signer())
        .body_hash(true)
        .layer(client.clone());
    let req = Request::post("https://api.example.com/r")
        .header(CONTENT_TYPE, "application/json")
        .body(body_with_trailers(b"{\"a\":1}"))
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    // (b) a form body, header placement: buffered to sign its parameters.
    let mut svc = SignLayer::new(signer()).layer(client.clone());
    let req = Request::post("https://api.example.com/r")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body_with_trailers(b"a=1"))
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    // (c) control: a JSON body that is not buffered keeps its trailers.
    let mut svc = SignLayer::new(signer()).layer(client);
    let req = Request::post("https://api.example.com/r")
        .header(CONTENT_TYPE, "application/json")
        .body(body_with_trailers(b"{}"))
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();

    let log = log.lock().unwrap();
    let got: Vec<_> = log
        .iter()
        .map(|s| {
            s.trailers
                .as_ref()
                .and_then(|t| t.get("x-checksum"))
                .cloned()
        })
        .collect();
    assert_eq!(
        got[2].as_ref().unwrap(),
        "abc",
        "control: streamed body keeps trailers"
    );
    assert_eq!(
        got[0].as_ref().map(|v| v.to_str().unwrap()),
        Some("abc"),
        "body_hash (buffered JSON body): trailers lost; all: {got:?}"
    );
    assert_eq!(
        got[1].as_ref().map(|v| v.to_str().unwrap()),
        Some("abc"),
        "form body (buffered): trailers lost; all: {got:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Checked fine: header / query / body placement over awkward URIs and bodies verify at the
// provider from what was sent.
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn every_placement_verifies_at_the_provider_across_odd_requests() {
    let form = "application/x-www-form-urlencoded; charset=UTF-8";
    let cases: &[(Placement, &str, &str, Option<&str>, &str)] = &[
        (
            Placement::Header,
            "GET",
            "https://API.Example.com:443/r%20v/X?b5=%3D%253D&a3=a&a3=2%20q&c2&c%40=",
            None,
            "",
        ),
        (
            Placement::Query,
            "GET",
            "https://API.Example.com:443/r%20v/X?b5=%3D%253D&a3=a&a3=2%20q&c2&c%40=",
            None,
            "",
        ),
        (
            Placement::Query,
            "GET",
            "https://api.example.com/r?",
            None,
            "",
        ),
        (
            Placement::Query,
            "GET",
            "https://api.example.com/r?a=1&",
            None,
            "",
        ),
        (
            Placement::Query,
            "GET",
            "https://api.example.com?a=1",
            None,
            "",
        ),
        (
            Placement::Header,
            "GET",
            "https://user:pw@api.example.com:8443/r",
            None,
            "",
        ),
        (
            Placement::Query,
            "GET",
            "https://[::1]:8443/r?x=%E2%9C%93",
            None,
            "",
        ),
        (
            Placement::Header,
            "patch",
            "https://api.example.com/r",
            None,
            "",
        ),
        (
            Placement::Header,
            "GET",
            "https://api.example.com/r",
            Some(form),
            "a=1+2&b=%E2%9C%93&&",
        ),
        (
            Placement::Header,
            "HEAD",
            "https://api.example.com/r",
            None,
            "",
        ),
        (
            Placement::Header,
            "DELETE",
            "https://api.example.com/r?x=1",
            Some(form),
            "",
        ),
        (
            Placement::Query,
            "POST",
            "https://api.example.com/r?q=1",
            Some(form),
            "a=1&a=1",
        ),
        (
            Placement::Body,
            "POST",
            "https://api.example.com/r?q=1",
            Some(form),
            "a=1&",
        ),
        (
            Placement::Body,
            "POST",
            "https://api.example.com/r",
            Some("application/json"),
            "",
        ),
        (
            Placement::Body,
            "PUT",
            "https://api.example.com/r",
            None,
            "",
        ),
        (
            Placement::Header,
            "POST",
            "https://api.example.com/r",
            Some("multipart/form-data; boundary=x"),
            "oauth_token=zz",
        ),
        (
            Placement::Header,
            "POST",
            "https://api.example.com/r",
            Some("APPLICATION/X-WWW-FORM-URLENCODED"),
            "z=%7E",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (placement, method, uri, ct, body)) in cases.iter().enumerate() {
        let (log, client) = recorder::<Full<Bytes>>();
        let mut svc = SignLayer::new(signer()).placement(*placement).layer(client);
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(*uri);
        if let Some(ct) = ct {
            req = req.header(CONTENT_TYPE, *ct);
        }
        let req = req
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        match svc.ready().await.unwrap().call(req).await {
            Err(e) => failures.push(format!("{i} {placement:?} {method} {uri}: refused: {e}")),
            Ok(_) => {
                let seen = log.lock().unwrap()[0].clone();
                if let Err(e) = provider_verifies(&seen) {
                    failures.push(format!(
                        "{i} {placement:?} {method} {uri}: sent {} : {e}",
                        seen.uri
                    ));
                }
                if !matches!(placement, Placement::Body) {
                    assert_eq!(seen.body, body.as_bytes(), "{i}: body changed");
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Checked fine: odd request targets are typed errors, not panics.
#[tokio::test]
async fn odd_request_targets_are_errors_not_panics() {
    for (method, uri) in [
        ("OPTIONS", "*"),
        ("CONNECT", "api.example.com:443"),
        ("GET", "/relative?a=1"),
        ("GET", "ftp://api.example.com/x"),
    ] {
        let (log, client) = recorder::<Full<Bytes>>();
        let mut svc = SignLayer::new(signer()).layer(client);
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::<Bytes>::default())
            .unwrap();
        let e = svc.ready().await.unwrap().call(req).await.unwrap_err();
        assert!(kind(&e).is_some(), "{method} {uri}: {e}");
        assert!(log.lock().unwrap().is_empty());
    }
    // A fragment never reaches the wire: http::Uri drops it.
    let u: Result<Uri, _> = "https://api.example.com/r?a=1#frag".parse();
    eprintln!("fragment URI parses as {u:?}");
}

/// Checked fine: the buffering path calls the service that poll_ready made ready, never an
/// unready clone; a clone left behind must be made ready again.
#[tokio::test]
async fn the_buffering_path_calls_the_ready_service() {
    #[derive(Clone)]
    struct Strict {
        ready: bool,
        calls: Arc<Mutex<usize>>,
    }
    impl Service<Request<SignedBody<Full<Bytes>>>> for Strict {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            self.ready = true;
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<SignedBody<Full<Bytes>>>) -> Self::Future {
            assert!(self.ready, "called without poll_ready");
            self.ready = false;
            *self.calls.lock().unwrap() += 1;
            std::future::ready(Ok(Response::new(Full::default())))
        }
    }
    let calls = Arc::default();
    let inner = Strict {
        ready: false,
        calls: Arc::clone(&calls),
    };
    let mut svc = SignLayer::new(signer()).layer(inner);
    for _ in 0..3 {
        let req = Request::post("https://api.example.com/r")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(b"a=1")))
            .unwrap();
        let fut = svc.ready().await.unwrap().call(req);
        fut.await.unwrap();
    }
    assert_eq!(*calls.lock().unwrap(), 3);
}

// ---------------------------------------------------------------------------------------------
// The dance against a provider that verifies every signature from what it received.
// ---------------------------------------------------------------------------------------------
mod dance_probes {
    use super::*;
    use http::StatusCode;
    use oauth_core::secret::Verifier;
    use tower_oauth1::dance::{Callback, CallbackError, Dance, DanceError};

    fn dance_signer() -> Signer {
        Signer::builder(ClientCredentials::new("key", ConsumerSecret::new(CS)))
            .build()
            .unwrap()
    }

    /// A provider: verifies with the consumer secret and (for the access token endpoint) the
    /// temporary secret `tmp-SECRET`, then answers `(status, body)` for the path.
    fn provider(
        temp_body: &'static [u8],
        access_body: &'static [u8],
    ) -> (
        Arc<Mutex<Vec<String>>>,
        impl Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible>,
    ) {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let l = Arc::clone(&log);
        let svc = service_fn(move |req: Request<Full<Bytes>>| {
            let auth = req.headers()[AUTHORIZATION].to_str().unwrap().to_owned();
            let parsed = UnverifiedRequest::parse(
                IncomingRequest::new(req.method(), req.uri()).authorization(&auth),
            )
            .unwrap();
            let cs = ConsumerSecret::new(CS);
            let ts = TokenSecret::new("tmp-SECRET");
            let access = req.uri().path().ends_with("access_token");
            let ok = parsed
                .verify(VerifyKey::Secrets(SigningSecrets {
                    consumer_secret: &cs,
                    token_secret: access.then_some(&ts),
                }))
                .is_ok();
            l.lock()
                .unwrap()
                .push(format!("{} ok={ok} {auth}", req.uri()));
            let (status, body) = match (ok, access) {
                (false, _) => (
                    StatusCode::UNAUTHORIZED,
                    &b"oauth_problem=signature_invalid"[..],
                ),
                (true, false) => (StatusCode::OK, temp_body),
                (true, true) => (StatusCode::OK, access_body),
            };
            let res = Response::builder()
                .status(status)
                .body(Full::new(Bytes::from_static(body)))
                .unwrap();
            async move { Ok::<_, Infallible>(res) }
        });
        (log, svc)
    }

    /// Checked fine: endpoints with a query and an explicit default port sign and verify.
    #[tokio::test]
    async fn e7_dance_signatures_verify_at_the_provider() {
        let (log, mut client) = provider(
            b"oauth_token=tmp&oauth_token_secret=tmp-SECRET&oauth_callback_confirmed=true",
            b"oauth_token=tok&oauth_token_secret=tok-SECRET&user_id=1",
        );
        let dance = Dance::new(
            dance_signer(),
            "https://P.example:443/oauth/request_token?x_auth_access_type=read"
                .parse()
                .unwrap(),
            "https://p.example/oauth/access_token?a=%2F"
                .parse()
                .unwrap(),
        );
        let pending = dance
            .request_temporary_credentials(
                &mut client,
                &Callback::Uri("https://app.example/cb?next=/a b".replace(' ', "%20")),
            )
            .await
            .unwrap();
        // The callback lands in another handler, with its own clone of the app's dance.
        let creds = dance
            .clone()
            .complete_from_callback(
                &mut client,
                pending,
                &"https://app.example/cb?next=/a&oauth_token=tmp&oauth_verifier=v%2B1"
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(creds.token(), "tok");
        let dbg = format!("{creds:?} {dance:?}");
        assert!(!dbg.contains("SECRET") && !dbg.contains(CS), "{dbg}");
        let log = log.lock().unwrap();
        assert!(log.iter().all(|l| l.contains("ok=true")), "{log:#?}");
        assert!(log[1].contains("oauth_verifier=\"v%2B1\""), "{log:#?}");
    }

    /// O1-11 (RFC 5849 §2.1): the temporary-credential request carries `oauth_callback` (`oob`
    /// here) and no token, so it is signed with an empty token secret, even when the signer
    /// handed to `Dance::new` still holds token credentials (from an earlier dance, say): the
    /// provider verifies it with the consumer secret alone.
    #[tokio::test]
    async fn o1_11_the_temporary_credential_request_has_a_callback_and_no_token() {
        let (log, mut client) = provider(
            b"oauth_token=tmp&oauth_token_secret=tmp-SECRET&oauth_callback_confirmed=true",
            b"",
        );
        let signer = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new(CS)))
            .token(TokenCredentials::new("old-token", TokenSecret::new(TS)))
            .build()
            .unwrap();
        let dance = Dance::new(
            signer,
            "https://p.example/request_token".parse().unwrap(),
            "https://p.example/access_token".parse().unwrap(),
        );
        let pending = dance
            .request_temporary_credentials(&mut client, &Callback::OutOfBand)
            .await
            .unwrap();
        assert_eq!(pending.token(), "tmp");
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1, "{log:#?}");
        assert!(log[0].contains("ok=true"), "{log:#?}");
        assert!(log[0].contains("oauth_callback=\"oob\""), "{log:#?}");
        assert!(!log[0].contains("oauth_token"), "{log:#?}");
    }

    /// Checked fine: hostile temporary/token-credential responses are typed errors.
    #[tokio::test]
    async fn e8_hostile_responses_are_typed_errors() {
        let huge: &'static [u8] = Box::leak(vec![b'a'; 10 << 20].into_boxed_slice());
        for body in [
            &b"oauth_token=tmp&oauth_token_secret=tmp-SECRET"[..],
            b"oauth_token=tmp&oauth_token_secret=tmp-SECRET&oauth_callback_confirmed=TRUE",
            b"oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true&oauth_callback_confirmed=false",
            b"oauth_token=tmp&oauth_callback_confirmed=true",
            b"oauth_token=tmp&oauth_token=evil&oauth_token_secret=s&oauth_callback_confirmed=true",
            b"\xff\xfeoauth_token=tmp",
            b"{\"oauth_token\":\"tmp\"}",
            huge,
        ] {
            let (_, mut client) = provider(body, b"");
            let dance = Dance::new(
                dance_signer(),
                "https://p.example/request_token".parse().unwrap(),
                "https://p.example/access_token".parse().unwrap(),
            );
            let e = dance
                .request_temporary_credentials(&mut client, &Callback::OutOfBand)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    DanceError::CallbackNotConfirmed
                        | DanceError::MalformedResponse { .. }
                        | DanceError::ResponseTooLarge { .. }
                ),
                "{e:?}"
            );
            assert!(!format!("{e} {e:?}").contains("SECRET"));
        }
        // The access-token response: a missing secret, duplicated token.
        for body in [
            &b"oauth_token=tok"[..],
            b"oauth_token=tok&oauth_token_secret=a&oauth_token_secret=b",
            b"",
        ] {
            let (_, mut client) = provider(
                b"oauth_token=tmp&oauth_token_secret=tmp-SECRET&oauth_callback_confirmed=true",
                body,
            );
            let dance = Dance::new(
                dance_signer(),
                "https://p.example/request_token".parse().unwrap(),
                "https://p.example/access_token".parse().unwrap(),
            );
            let pending = dance
                .request_temporary_credentials(&mut client, &Callback::OutOfBand)
                .await
                .unwrap();
            let e = dance
                .request_token_credentials(&mut client, pending, Verifier::new("v"))
                .await
                .unwrap_err();
            assert!(matches!(e, DanceError::MalformedResponse { .. }), "{e:?}");
        }
        // Callbacks: another token, a duplicated token, a missing verifier.
        let dance = Dance::new(
            dance_signer(),
            "https://p.example/request_token".parse().unwrap(),
            "https://p.example/access_token".parse().unwrap(),
        );
        let pending = dance.pending("tmp", TokenSecret::new("tmp-SECRET"));
        for (q, want) in [
            (
                "oauth_token=tmq&oauth_verifier=v",
                CallbackError::TokenMismatch,
            ),
            (
                "oauth_token=TMP&oauth_verifier=v",
                CallbackError::TokenMismatch,
            ),
            (
                "oauth_token=tmp%00&oauth_verifier=v",
                CallbackError::TokenMismatch,
            ),
            (
                "oauth_token=evil&oauth_token=tmp&oauth_verifier=v",
                CallbackError::Malformed,
            ),
            ("oauth_verifier=v", CallbackError::MissingToken),
            (
                "oauth_token=tmp&oauth_verifier=v&oauth_verifier=w",
                CallbackError::Malformed,
            ),
        ] {
            let uri: Uri = format!("https://app.example/cb?{q}").parse().unwrap();
            assert_eq!(
                pending.verifier_from_callback(&uri).unwrap_err(),
                want,
                "{q}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// With PLAINTEXT and body placement the body carries oauth_signature = enc(consumer
// secret)&enc(token secret); SignedBody's Debug used to print its bytes, so any `{:?}` of the
// signed request (a logging middleware, `dbg!`) printed both secrets. It prints the length.
// ---------------------------------------------------------------------------------------------
#[tokio::test]
async fn debug_of_a_plaintext_body_placement_request_shows_no_secret() {
    use oauth_core::oauth1::SignatureMethod;
    use tower_oauth1::sign::Origin as AllowedOrigin;
    let plaintext = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new(CS)))
        .token(TokenCredentials::new("tok", TokenSecret::new(TS)))
        .method(SignatureMethod::Plaintext)
        .build()
        .unwrap();
    let printed: Arc<Mutex<Vec<String>>> = Arc::default();
    let p = Arc::clone(&printed);
    // Stands for any layer that logs the request it forwards.
    let logging_client = service_fn(move |req: Request<SignedBody<Full<Bytes>>>| {
        p.lock().unwrap().push(format!("{req:?}"));
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::default())) }
    });
    let origins = ["https://api.example.com".parse::<AllowedOrigin>().unwrap()];
    let mut header = SignLayer::new(plaintext.clone())
        .allowed_origins(origins.clone())
        .layer(logging_client.clone());
    let mut body = SignLayer::new(plaintext)
        .allowed_origins(origins)
        .placement(Placement::Body)
        .layer(logging_client);
    let req = || {
        Request::post("https://api.example.com/r")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(b"a=1")))
            .unwrap()
    };
    header.ready().await.unwrap().call(req()).await.unwrap();
    body.ready().await.unwrap().call(req()).await.unwrap();
    let printed = printed.lock().unwrap();
    assert!(
        !printed[0].contains("SENTINEL"),
        "header placement: {}",
        printed[0]
    );
    assert!(
        !printed[1].contains("SENTINEL"),
        "body placement, Debug of the signed request: {}",
        printed[1]
    );
}

/// A dance step inside a tokio runtime built without `enable_time` fails with `NoTimer`
/// (it used to panic in the caller's task).
#[test]
fn the_dance_in_a_runtime_without_timers_is_an_error_not_a_panic() {
    use tower_oauth1::dance::{Callback, Dance, DanceError};
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let mut client = service_fn(|_req: Request<Full<Bytes>>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                    b"oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=true",
                ))))
            });
            let dance = Dance::new(
                Signer::builder(ClientCredentials::new("key", ConsumerSecret::new(CS)))
                    .build()
                    .unwrap(),
                "https://p.example/request_token".parse().unwrap(),
                "https://p.example/access_token".parse().unwrap(),
            );
            dance
                .request_temporary_credentials(&mut client, &Callback::OutOfBand)
                .await
                .map(|p| p.token().to_owned())
        })
    }));
    match result {
        Ok(r) => assert!(matches!(r, Err(DanceError::NoTimer)), "{r:?}"),
        Err(p) => panic!(
            "the dance panicked: {:?}",
            p.downcast_ref::<String>()
                .map(String::as_str)
                .or(p.downcast_ref::<&str>().copied())
        ),
    }
}

/// With `Dance::no_timeout` a step keeps no deadline, so it needs no tokio timers: on a runtime
/// without them it is sent and its answer read.
#[test]
fn the_dance_with_no_timeout_needs_no_timers() {
    use tower_oauth1::dance::{Callback, Dance};
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let token = rt.block_on(async {
        let mut client = service_fn(|_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                b"oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=true",
            ))))
        });
        let dance = Dance::new(
            Signer::builder(ClientCredentials::new("key", ConsumerSecret::new(CS)))
                .build()
                .unwrap(),
            "https://p.example/request_token".parse().unwrap(),
            "https://p.example/access_token".parse().unwrap(),
        )
        .no_timeout();
        dance
            .request_temporary_credentials(&mut client, &Callback::OutOfBand)
            .await
            .map(|p| p.token().to_owned())
    });
    assert_eq!(token.unwrap(), "t");
}

/// One hyper client type serves both the dance and the signing layer: the dance's request
/// body needs `From<Bytes>`, which `SignedBody` implements.
#[test]
fn signed_body_is_a_dance_request_body() {
    fn dance_body<B: From<Bytes>>() {}
    dance_body::<SignedBody<Full<Bytes>>>();
}

/// Two `Host` headers: the layer signed for the first, but a server must refuse such a request
/// (RFC 9112 §3.2) and a lax front end may route by the other one, where the signature for the
/// first host could be replayed. Refused like two `Content-Type`s, with `InvalidHost`, in
/// either order and whether or not the first names the URI's own authority.
#[tokio::test]
async fn two_host_headers_are_refused() {
    let address: tower_oauth1::sign::Origin = "https://api.example.com".parse().unwrap();
    for hosts in [
        ["api.example.com", "evil.example"],
        ["evil.example", "api.example.com"],
    ] {
        let (log, client) = recorder::<Full<Bytes>>();
        let mut svc = SignLayer::new(signer())
            .allowed_origins([address.clone()])
            .layer(client);
        let req = Request::get("https://api.example.com/r")
            .header(HOST, hosts[0])
            .header(HOST, hosts[1])
            .body(Full::<Bytes>::default())
            .unwrap();
        let error = svc.ready().await.unwrap().call(req).await.unwrap_err();
        assert_eq!(
            kind(&error),
            Some(SignRequestErrorKind::InvalidHost),
            "{hosts:?}"
        );
        assert!(log.lock().unwrap().is_empty());
    }
}
