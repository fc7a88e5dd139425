//! A seeded, model-based fault run of `TokenSource` and `OAuth2Layer`: a fake token endpoint
//! (behind a real `GrantClient`) that issues numbered tokens with rotating refresh tokens (or,
//! in some runs, one refresh token that does not rotate) and,
//! per seeded draw, fails transiently, refuses the grant, is slow, hangs, or loses its answer
//! after rotating; a store wrapper (around a `MemoryStore` or a `FileStore`) whose calls fail,
//! are slow, hang or panic; sometimes a second source sharing the store (another process);
//! some sources fetch with client credentials instead of refreshing; in some runs one or two
//! followers (sources with the same faulty store and no fetcher, each behind a layer of its own,
//! one of them sometimes built in the middle of the run, some finding the store empty when
//! built) that take up what the others save;
//! many concurrent requests through the layer to an API that accepts only valid access tokens,
//! some of them dropped half way, while tokio's paused clock moves across expiries and refresh
//! margins. After each run the faults stop, time passes, and the invariants are checked (see
//! `run_case`).
//!
//! `FAULT_MODEL_SEED=<n>` replays one seed (printed on a failure); `FAULT_MODEL_CASES=<n>`
//! changes the number of seeds (default 200).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use oauth_core::clock::Clock;
use oauth_core::oauth2::{Client, Endpoint, RefreshPolicy, Token, TokenType};
use oauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use tokio::time::Instant;
use tower::{BoxError, Layer, Service, ServiceExt};
use tower_oauth2::clock::TokioClock;
use tower_oauth2::store::{
    FileStore, MemoryStore, RefreshLock, StoreError, StoreFuture, TokenStore,
};
use tower_oauth2::{GrantClient, OAuth2Layer, TokenErrorKind, TokenSource};

mod common;
use common::API;
use common::scripted_store::{Action, Op, ScriptedStore};

/// Every token and secret starts with this, so that a leak into an error's text is seen.
const SENTINEL: &str = "SENTINEL";
const CLIENT_SECRET: &str = "SENTINEL-client-secret";
/// The grant client's deadline for one exchange.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

fn access_token(n: u64) -> String {
    format!("{SENTINEL}-AT-{n}")
}

fn refresh_token(n: u64) -> String {
    format!("{SENTINEL}-RT-{n}")
}

/// The number in `SENTINEL-XX-<n>`.
fn serial(text: &str, kind: &str) -> Option<u64> {
    text.strip_prefix(&format!("{SENTINEL}-{kind}-"))?
        .parse()
        .ok()
}

fn token_serial(token: &Token) -> u64 {
    serial(token.access_token().secret(), "AT").expect("a token of this run")
}

/// splitmix64: small, seedable, good enough to draw faults.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max))
    }
}

/// What one run found wrong.
type Violations = Arc<Mutex<Vec<String>>>;

thread_local! {
    static START: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// With `FAULT_MODEL_TRACE`, what happened, in order (for replaying one seed).
fn trace(what: std::fmt::Arguments<'_>) {
    if std::env::var_os("FAULT_MODEL_TRACE").is_some() {
        let start = START
            .with(std::cell::Cell::get)
            .unwrap_or_else(Instant::now);
        eprintln!("[{:>9.3}] {what}", start.elapsed().as_secs_f64());
    }
}

fn violation(violations: &Violations, what: String) {
    let mut v = violations.lock().unwrap();
    if v.len() < 20 {
        v.push(what);
    }
}

/// How often the token endpoint misbehaves (while faults are on).
#[derive(Clone, Copy, Debug)]
struct EndpointFaults {
    transient: f64,
    invalid_grant: f64,
    slow: f64,
    hang: f64,
    /// Rotates the refresh token, then the answer is lost (a reset, or a hang until the
    /// client's deadline).
    lost: f64,
}

/// What the endpoint does with one request.
#[derive(Debug)]
enum Answer {
    Normal,
    Status503,
    Transport,
    InvalidGrant,
    Slow(Duration),
    Hang,
    Lost { hang: bool },
}

/// The authorization server: one grant, its live refresh token, the access tokens it issued.
struct Server {
    rng: Rng,
    faults_on: bool,
    faults: EndpointFaults,
    reuse_detection: bool,
    /// Whether a refresh rotates the refresh token; when not, the same one comes back (or
    /// none, which keeps it: RFC 6749 §6), with a new access token each time.
    rotates: bool,
    next: u64,
    /// The refresh token that works now; `None` once the grant is revoked.
    live_refresh: Option<u64>,
    /// Refresh tokens rotated away.
    rotated: HashSet<u64>,
    /// The last refresh tokens of grants replaced by a login.
    retired: HashSet<u64>,
    /// Access tokens and when each expires.
    access: Vec<(u64, Instant)>,
    /// Every access token issued and when it expires (kept after a revocation).
    expires: HashMap<u64, Instant>,
    /// Per source: refresh tokens it was told (in a response it received) are rotated away.
    dead_for: [HashSet<u64>; 2],
    /// Per source: the newest token it received.
    newest: [Option<u64>; 2],
    /// Per source: exchanges in flight now.
    in_flight: [u32; 2],
    /// Per source: `invalid_grant` answers it received.
    refused: [u32; 2],
    /// Per source: the refresh tokens it was answered `invalid_grant` for.
    refused_rts: [HashSet<u64>; 2],
    revoked: bool,
    issued: u64,
    /// Answers lost after a rotation, and rotated-away refresh tokens sent (source, serial).
    lost: u32,
    reuses: Vec<(usize, u64)>,
    logins: u32,
    /// Per source: `invalid_grant` answers drawn as faults (not for a dead refresh token).
    spurious: [u32; 2],
    violations: Violations,
}

impl Server {
    fn draw(&mut self) -> Answer {
        if !self.faults_on {
            return Answer::Normal;
        }
        let f = self.faults;
        let x = self.rng.unit();
        let mut edge = f.transient;
        if x < edge {
            return if self.rng.chance(0.5) {
                Answer::Status503
            } else {
                Answer::Transport
            };
        }
        edge += f.invalid_grant;
        if x < edge {
            return Answer::InvalidGrant;
        }
        edge += f.slow;
        if x < edge {
            return Answer::Slow(self.rng.millis(8_000));
        }
        edge += f.hang;
        if x < edge {
            return Answer::Hang;
        }
        edge += f.lost;
        if x < edge {
            let hang = self.rng.chance(0.5);
            return Answer::Lost { hang };
        }
        Answer::Normal
    }

    /// A refresh with `rt`: the new token's serial, or `None` for `invalid_grant`.
    /// A client-credentials token (no refresh token): its serial and lifetime.
    fn issue(&mut self) -> (u64, u64) {
        self.next += 1;
        let n = self.next;
        let lifetime = [20, 90, 300, 600][self.rng.below(4) as usize];
        self.access
            .push((n, Instant::now() + Duration::from_secs(lifetime)));
        self.expires
            .insert(n, Instant::now() + Duration::from_secs(lifetime));
        self.issued += 1;
        (n, lifetime)
    }

    fn refresh(&mut self, id: usize, rt: Option<u64>) -> Option<(u64, u64)> {
        let rt = rt?;
        if self.live_refresh == Some(rt) {
            self.next += 1;
            let n = self.next;
            let lifetime = [20, 90, 300, 600][self.rng.below(4) as usize];
            self.access
                .push((n, Instant::now() + Duration::from_secs(lifetime)));
            self.expires
                .insert(n, Instant::now() + Duration::from_secs(lifetime));
            if self.rotates {
                self.rotated.insert(rt);
                self.live_refresh = Some(n);
            }
            self.issued += 1;
            return Some((n, lifetime));
        }
        if self.rotated.contains(&rt) && self.reuse_detection {
            self.reuses.push((id, rt));
            // RFC 9700 §4.14.2: a rotated-away refresh token came back; revoke the family.
            self.live_refresh = None;
            self.access.clear();
            self.revoked = true;
        }
        None
    }

    /// A new grant (the user logged in again): its first token.
    fn login(&mut self, id: usize) -> u64 {
        self.next += 1;
        let n = self.next;
        self.access
            .push((n, Instant::now() + Duration::from_secs(600)));
        self.expires
            .insert(n, Instant::now() + Duration::from_secs(600));
        // The old grant's refresh tokens are refused from now on, as another grant's: not
        // reuse of a rotated-away one.
        if let Some(old) = self.live_refresh.replace(n) {
            self.retired.insert(old);
        }
        self.revoked = false;
        self.issued += 1;
        self.logins += 1;
        self.newest[id] = Some(n);
        n
    }

    fn access_valid(&self, n: u64) -> bool {
        let now = Instant::now();
        self.access.iter().any(|(a, until)| *a == n && now < *until)
    }
}

type Shared<T> = Arc<Mutex<T>>;

/// Counts an exchange of source `id` in flight while it lives.
struct InFlight {
    server: Shared<Server>,
    id: usize,
}

impl InFlight {
    fn enter(server: &Shared<Server>, id: usize) -> Self {
        let mut s = server.lock().unwrap();
        s.in_flight[id] += 1;
        if s.in_flight[id] > 1 {
            let v = s.violations.clone();
            violation(
                &v,
                format!("source {id}: two token requests in flight at once"),
            );
        }
        Self {
            server: server.clone(),
            id,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.server.lock().unwrap().in_flight[self.id] -= 1;
    }
}

fn json(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn invalid_grant() -> Response<Full<Bytes>> {
    json(400, r#"{"error":"invalid_grant"}"#.to_owned())
}

type EndpointFuture =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, BoxError>> + Send + 'static>>;

/// The token endpoint as source `id` reaches it (a process of its own).
fn endpoint(
    server: Shared<Server>,
    id: usize,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = BoxError,
    Future = EndpointFuture,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |req: Request<Full<Bytes>>| {
        let server = server.clone();
        Box::pin(async move {
            let _in_flight = InFlight::enter(&server, id);
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            let rt = body
                .split('&')
                .find_map(|pair| pair.strip_prefix("refresh_token="))
                .and_then(|rt| serial(rt, "RT"));
            let client_credentials = body.contains("grant_type=client_credentials");
            let answer = {
                let mut s = server.lock().unwrap();
                if let Some(rt) = rt
                    && s.dead_for[id].contains(&rt)
                {
                    let v = s.violations.clone();
                    violation(
                        &v,
                        format!(
                            "source {id} sent refresh token {rt} again after a response rotated it away"
                        ),
                    );
                }
                if let Some(rt) = rt
                    && s.refused_rts[id].contains(&rt)
                {
                    let v = s.violations.clone();
                    violation(
                        &v,
                        format!("source {id} sent refresh token {rt} again after it was refused"),
                    );
                }
                if rt.is_none() && !client_credentials {
                    let v = s.violations.clone();
                    violation(
                        &v,
                        format!("source {id}: a token request with no refresh token: {body:?}"),
                    );
                }
                let answer = s.draw();
                trace(format_args!(
                    "endpoint: source {id} sends RT {rt:?}: {answer:?}"
                ));
                answer
            };
            match answer {
                Answer::Normal => {}
                Answer::Status503 => {
                    return Ok(json(
                        503,
                        r#"{"error":"temporarily_unavailable"}"#.to_owned(),
                    ));
                }
                Answer::Transport => return Err("connection reset by peer (injected)".into()),
                Answer::InvalidGrant => {
                    let mut s = server.lock().unwrap();
                    s.refused[id] += 1;
                    s.spurious[id] += 1;
                    s.refused_rts[id].extend(rt);
                    drop(s);
                    return Ok(invalid_grant());
                }
                Answer::Slow(wait) => tokio::time::sleep(wait).await,
                Answer::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                Answer::Lost { hang } => {
                    {
                        let mut s = server.lock().unwrap();
                        s.lost += 1;
                        if client_credentials {
                            s.issue();
                        } else {
                            s.refresh(id, rt);
                        }
                    }
                    if hang {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    return Err(
                        "connection reset after the request was processed (injected)".into(),
                    );
                }
            }
            let mut s = server.lock().unwrap();
            if client_credentials {
                let (n, lifetime) = s.issue();
                trace(format_args!(
                    "endpoint: source {id} gets client-credentials token {n}"
                ));
                s.newest[id] = Some(s.newest[id].map_or(n, |old| old.max(n)));
                return Ok(json(
                    200,
                    format!(
                        r#"{{"access_token":"{}","token_type":"Bearer","expires_in":{lifetime}}}"#,
                        access_token(n)
                    ),
                ));
            }
            let issued = s.refresh(id, rt);
            trace(format_args!(
                "endpoint: source {id} with RT {rt:?} gets {issued:?}"
            ));
            match issued {
                Some((n, lifetime)) => {
                    s.newest[id] = Some(s.newest[id].map_or(n, |old| old.max(n)));
                    // The refresh token sent back: a new one, or without rotation the same one
                    // or none.
                    let new_rt = if s.rotates {
                        s.dead_for[id].insert(rt.unwrap());
                        Some(n)
                    } else if s.rng.chance(0.5) {
                        rt
                    } else {
                        None
                    };
                    let new_rt = new_rt
                        .map(|r| format!(r#","refresh_token":"{}""#, refresh_token(r)))
                        .unwrap_or_default();
                    Ok(json(
                        200,
                        format!(
                            r#"{{"access_token":"{}","token_type":"Bearer","expires_in":{lifetime}{new_rt}}}"#,
                            access_token(n),
                        ),
                    ))
                }
                None => {
                    s.refused[id] += 1;
                    s.refused_rts[id].extend(rt);
                    Ok(invalid_grant())
                }
            }
        }) as EndpointFuture
    })
}

/// The API: accepts only access tokens the server issued that are still valid.
fn api(
    server: Shared<Server>,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future: Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |req: Request<Full<Bytes>>| {
        let s = server.lock().unwrap();
        let auth = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("<not text>").to_owned());
        let valid = match &auth {
            None => {
                violation(
                    &s.violations,
                    "a request reached the API with no Authorization".into(),
                );
                false
            }
            Some(auth) => match auth.strip_prefix("Bearer ").and_then(|t| serial(t, "AT")) {
                Some(n) if n <= s.next => s.access_valid(n),
                _ => {
                    violation(
                        &s.violations,
                        format!("a request reached the API with Authorization {auth:?}"),
                    );
                    false
                }
            },
        };
        let mut res = Response::new(Full::default());
        if !valid {
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            res.headers_mut().insert(
                "www-authenticate",
                r#"Bearer error="invalid_token""#.parse().unwrap(),
            );
        }
        async move { Ok::<_, Infallible>(res) }
    })
}

/// What a store call does (while faults are on).
#[derive(Clone, Copy, Debug)]
enum StoreFault {
    None,
    FailBefore,
    /// The write lands, the call reports a failure.
    FailAfter,
    Slow(Duration),
    /// Never answers (the source's deadline cuts it).
    Hang,
    PanicCall,
    PanicPoll,
}

struct StoreCtl {
    rng: Rng,
    on: bool,
    fail: f64,
    slow: f64,
    hang: f64,
    panic: f64,
    /// The serial of the stored token after each write.
    writes: Vec<u64>,
    /// How many `lock_refresh` calls failed, hung or panicked, or gave up waiting.
    lock_faults: u64,
    /// The faults other than slowness, by operation.
    log: Vec<(&'static str, StoreFault)>,
}

impl StoreCtl {
    fn draw(&mut self, op: &'static str) -> StoreFault {
        if !self.on {
            return StoreFault::None;
        }
        let x = self.rng.unit();
        let fault = if x < self.fail {
            if (op == "save" || op == "compare_and_swap") && self.rng.chance(0.3) {
                StoreFault::FailAfter
            } else {
                StoreFault::FailBefore
            }
        } else if x < self.fail + self.slow {
            StoreFault::Slow(self.rng.millis(5_000))
        } else if x < self.fail + self.slow + self.hang {
            StoreFault::Hang
        } else if x < self.fail + self.slow + self.hang + self.panic {
            if self.rng.chance(0.5) {
                StoreFault::PanicCall
            } else {
                StoreFault::PanicPoll
            }
        } else {
            StoreFault::None
        };
        if !matches!(fault, StoreFault::None | StoreFault::Slow(_)) {
            if op == "lock_refresh" {
                self.lock_faults += 1;
            }
            self.log.push((op, fault));
        }
        fault
    }

    fn wrote(&mut self, token: &Token) {
        self.writes.push(token_serial(token));
    }

    /// A write of an older token than the one before it.
    fn went_back(&self) -> Option<(u64, u64)> {
        self.writes
            .windows(2)
            .find(|w| w[1] < w[0])
            .map(|w| (w[0], w[1]))
    }
}

fn injected(op: &'static str) -> StoreError {
    StoreError::new(op, Some("injected store failure".into()))
}

/// A store whose calls fail, are slow, hang or panic, per seeded draw.
#[derive(Clone)]
struct FaultyStore {
    id: usize,
    /// Takes no refresh lock (the trait's default, for a store one source uses).
    no_lock: bool,
    inner: Arc<dyn TokenStore>,
    ctl: Shared<StoreCtl>,
}

impl FaultyStore {
    fn draw(&self, op: &'static str) -> StoreFault {
        let fault = self.ctl.lock().unwrap().draw(op);
        trace(format_args!("store: source {} {op}: {fault:?}", self.id));
        if let StoreFault::PanicCall = fault {
            panic!("injected store panic in {op}");
        }
        fault
    }
}

/// Before the call: fails, waits or panics as `fault` says.
async fn before(fault: StoreFault, op: &'static str) -> Result<(), StoreError> {
    match fault {
        StoreFault::FailBefore => Err(injected(op)),
        StoreFault::Slow(wait) => {
            tokio::time::sleep(wait).await;
            Ok(())
        }
        StoreFault::Hang => {
            tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
            Ok(())
        }
        StoreFault::PanicPoll => panic!("injected store panic while polling {op}"),
        _ => Ok(()),
    }
}

impl TokenStore for FaultyStore {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        let fault = self.draw("load");
        Box::pin(async move {
            before(fault, "load").await?;
            let loaded = self.inner.load().await?;
            trace(format_args!(
                "store: source {} loaded {:?}",
                self.id,
                loaded.as_ref().map(token_serial)
            ));
            Ok(loaded)
        })
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        let fault = self.draw("save");
        Box::pin(async move {
            before(fault, "save").await?;
            self.inner.save(token).await?;
            trace(format_args!(
                "store: source {} saved {}",
                self.id,
                token_serial(token)
            ));
            self.ctl.lock().unwrap().wrote(token);
            match fault {
                StoreFault::FailAfter => Err(injected("save")),
                _ => Ok(()),
            }
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        let fault = self.draw("compare_and_swap");
        Box::pin(async move {
            before(fault, "compare_and_swap").await?;
            let swapped = self.inner.compare_and_swap(expected, token).await?;
            if swapped {
                self.ctl.lock().unwrap().wrote(token);
            }
            match fault {
                StoreFault::FailAfter => Err(injected("compare_and_swap")),
                _ => Ok(swapped),
            }
        })
    }

    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        let fault = self.draw("lock_refresh");
        Box::pin(async move {
            before(fault, "lock_refresh").await?;
            if self.no_lock {
                return Ok(RefreshLock::none());
            }
            let start = Instant::now();
            let lock = self.inner.lock_refresh().await;
            // The store gave up waiting for the other source's refresh (a store call of its
            // that hangs, say) and goes on without the lock: their writes can cross, as after
            // a lock fault. (Without rotation both refreshes succeed, and the older token can
            // land last.)
            if start.elapsed() >= tower_oauth2::store::REFRESH_LOCK_WAIT {
                self.ctl.lock().unwrap().lock_faults += 1;
            }
            lock
        })
    }

    fn grant_revoked<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        self.inner.grant_revoked(token)
    }
}

/// How long a follower's caller waits at most for one look at the store
/// (`TokenSourceBuilder::store`: "a request that needs it waits for the read at most 5 s"),
/// also when it comes while another caller's look is in flight (`store_follower.rs`,
/// `a_callers_wait_for_a_look_another_caller_started_is_at_most_5_s`).
fn follower_wait() -> Duration {
    Duration::from_secs(5)
}

/// A layer call of a follower's request.
type LayerCall =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, BoxError>> + Send + 'static>>;

/// What a follower (a source with the store and no fetcher) did, as its store wrapper and its
/// API saw it.
#[derive(Default)]
struct FollowerLog {
    /// Whether its build is over (the loads before are the build's).
    built: bool,
    build_loads: usize,
    /// When each load after the build was called, and the time left then on the follower's
    /// token (`None`: no token, or none with an expiry), which sets how soon it may look again.
    loads: Vec<(Instant, Option<Duration>)>,
    /// The follower, once built (for the time left on its token at each load; taken out at the
    /// end of the run, which breaks the cycle through its store).
    source: Option<TokenSource>,
    /// What each load after the build that answered found, in order: the serial, and whether
    /// it had not expired then by its own `expires_at` (a `FileStore` keeps whole seconds, so
    /// a token read back from the file expires up to a second before the server's expiry).
    found: Vec<Option<(u64, bool)>>,
    /// What the build's load that answered found.
    build_found: Option<Option<u64>>,
    /// Its `save` and `compare_and_swap` calls, and its `lock_refresh` calls.
    writes: usize,
    locks: usize,
    /// The serial each request carried to the API, in the order they arrived.
    sent: Vec<u64>,
    /// The serials `token` and `refresh` returned.
    returned: Vec<u64>,
}

/// A follower's store: the same faults as the refreshing sources' (drawn from its own RNG), and
/// every call counted.
#[derive(Clone)]
struct FollowerStore {
    inner: FaultyStore,
    log: Shared<FollowerLog>,
    /// The store looks empty to the follower's build (it started before the refreshing
    /// source first saved): it has no token until a look takes one up.
    empty_at_build: bool,
    /// The run's clock (the followers'), to tell whether a loaded token had expired.
    clock: TokioClock,
}

impl TokenStore for FollowerStore {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        {
            let source = self.log.lock().unwrap().source.clone();
            let now = self.clock.now();
            let left = source
                .and_then(|s| s.current())
                .and_then(|t| t.expires_at())
                .map(|at| at.duration_since(now).unwrap_or_default());
            let mut log = self.log.lock().unwrap();
            if log.built {
                log.loads.push((Instant::now(), left));
            } else {
                log.build_loads += 1;
                if self.empty_at_build {
                    log.build_found = Some(None);
                    return Box::pin(async { Ok(None) });
                }
            }
        }
        let load = self.inner.load();
        let log = self.log.clone();
        let clock = self.clock.clone();
        Box::pin(async move {
            let loaded = load.await;
            if let Ok(found) = &loaded {
                let mut log = log.lock().unwrap();
                if log.built {
                    let live = |t: &Token| !t.is_expired(clock.now());
                    log.found
                        .push(found.as_ref().map(|t| (token_serial(t), live(t))));
                } else {
                    log.build_found = Some(found.as_ref().map(token_serial));
                }
            }
            loaded
        })
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        self.log.lock().unwrap().writes += 1;
        self.inner.save(token)
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        self.log.lock().unwrap().writes += 1;
        self.inner.compare_and_swap(expected, token)
    }

    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        self.log.lock().unwrap().locks += 1;
        self.inner.lock_refresh()
    }

    fn grant_revoked<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        self.log.lock().unwrap().writes += 1;
        self.inner.grant_revoked(token)
    }
}

/// The API as follower `fid` reaches it: as [`api`], and every request must carry a whole
/// access token the server issued, not past its expiry (the server's, which the follower's
/// copy shares: both count from the same instant of paused time, and every source and grant
/// client of a run reads the same clock).
fn follower_api(
    server: Shared<Server>,
    fid: usize,
    log: Shared<FollowerLog>,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future: Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |req: Request<Full<Bytes>>| {
        let s = server.lock().unwrap();
        let auth = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("<not text>").to_owned());
        let issued = auth
            .as_deref()
            .and_then(|auth| auth.strip_prefix("Bearer "))
            .and_then(|t| serial(t, "AT"))
            .filter(|n| s.expires.contains_key(n));
        let valid = match issued {
            Some(n) => {
                trace(format_args!("api: follower {fid} sends {n}"));
                // Not even at the very instant of expiry (`store_follower.rs`,
                // `with_margin_0_a_warm_service_does_not_send_the_token_at_the_instant_it_expires`).
                if Instant::now() >= s.expires[&n] {
                    violation(
                        &s.violations,
                        format!(
                            "follower {fid} sent token {n} {:?} past its expiry",
                            Instant::now() - s.expires[&n]
                        ),
                    );
                }
                log.lock().unwrap().sent.push(n);
                s.access_valid(n)
            }
            None => {
                violation(
                    &s.violations,
                    format!(
                        "follower {fid}: a request reached the API with Authorization {auth:?}"
                    ),
                );
                false
            }
        };
        let mut res = Response::new(Full::default());
        if !valid {
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            res.headers_mut().insert(
                "www-authenticate",
                r#"Bearer error="invalid_token""#.parse().unwrap(),
            );
        }
        async move { Ok::<_, Infallible>(res) }
    })
}

fn starting_token(clock: &TokioClock) -> Token {
    Token::new(AccessToken::new(access_token(0)), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new(refresh_token(0))))
        .with_expires_at(Some(clock.now() + Duration::from_secs(30)))
}

/// `text` holds no token or secret of this run.
fn check_no_secret(violations: &Violations, what: &str, text: &str) {
    if text.contains(SENTINEL) {
        violation(violations, format!("{what} holds a secret: {text}"));
    }
}

/// The error's whole chain, `Display` and `Debug`.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{error} / {error:?}");
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(&format!(" / {cause} / {cause:?}"));
        next = cause.source();
    }
    text
}

/// The token kind behind a layer error.
fn layer_error_kind(error: &BoxError) -> Option<TokenErrorKind> {
    error
        .downcast_ref::<tower_oauth2::Error>()?
        .token_error()
        .map(|e| e.kind())
}

/// A temporary directory for one run's token file, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(seed: u64) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tower-oauth2-fault-model-{}-{seed}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One seeded run; what it found wrong. The invariants:
///
/// - no panic reaches a caller, and every caller ends (fetches and store calls are bounded);
/// - every request reaches the API with `Bearer <an access token the server issued>`;
/// - at most one token request per source is in flight at any moment;
/// - a source never sends a refresh token again after it was answered `invalid_grant` for it,
///   nor after it received the response that rotated
///   it away; with a store that never fails (slowness aside) and no answer lost after a
///   rotation, no source sends a rotated-away refresh token at all; nor does a lone source
///   unless an answer was lost;
/// - no error's `Display` or `Debug` (whole chain) holds a token or the client secret;
/// - once the faults stop and time passes, a request succeeds, or fails with
///   `TokenErrorKind::Reauthorize` for a source the server answered `invalid_grant` (a
///   client-credentials source always recovers: it asks again after the longest back-off);
/// - the store never goes back to an older token, and the newest token a source received is
///   in the store (or a newer one is), or `has_unsaved_token` says so; a lone source's unsaved
///   token is saved by the background retries once the store works. (Not checked between two
///   processes whose writes can cross: see `processes_race`.)
///
/// - A source refused for good recovers when another process (or a login) puts a live token
///   in the store later: it looks at the store again. Not when the server refused the live
///   refresh token itself (a spurious refusal): a refused refresh token is never sent again;
///   `FAULT_MODEL_VERBOSE` prints such runs as `STUCK`.
///
/// And for the followers (sources with the store and no fetcher):
///
/// - no panic reaches a caller (nor a late build), and no error holds a secret; a follower's
///   errors are `NoToken` (or `Transient` from `refresh`), a late build's `Store`;
/// - a follower never calls `save`, `compare_and_swap`, `grant_revoked` nor `lock_refresh`;
/// - every request it sends carries a whole access token the server issued, not past its
///   expiry as the server dates it (the sources' clock is the run's; requests go through a
///   fresh clone of its service or its one long-lived service whose cached entry is warm,
///   some at the very instant the token expires); nor does `token` or `refresh`
///   return one (some requests are sent at the very instant their token expires);
/// - a caller waits at most 5 s for a look at the store (`follower_wait`: more until a known
///   defect is fixed), twice for a request refused with a 401;
/// - after its build, it calls `load` at most once per max(`min_interval`, 1 s) of paused time;
/// - once the faults stop and the store holds a live token, each follower's requests carry
///   that token (or a newer one) within max(`min_interval`, 1 s) + 6 s; three times, the second
///   past that token's expiry and the refreshing source's next refresh, the third inside the
///   followers' refresh margin after a `refresh` of the refreshing source;
/// - then the server revokes that token: a follower that holds it is refused, and its request
///   is sent again at once with the newer stored token (one call, answered 200);
/// - a follower never reports an unsaved token (it saves none, and takes up stored ones);
/// - it never sends an older token than one it sent before, unless the store itself went
///   back (two processes' crossing writes, see `processes_race`);
/// - it never asks the token endpoint for anything (it has no grant client at all): every
///   token it used other than its first was taken up by a look, so `fetch_count` is at least
///   the number of those tokens and at most the number of its loads after its build; and it
///   is exactly the number of its loads that found a live token other than the one it last
///   took up (or found at its build) and the one in use: it takes up every such token.
async fn run_case(seed: u64) -> Vec<String> {
    START.with(|start| start.set(Some(Instant::now())));
    // The sources' clock (their grant clients' TokioClocks are made now too): a TokioClock
    // made later would date tokens by the real time that passed, not tokio's.
    let clock = TokioClock::new();
    let mut rng = Rng::new(seed);
    let violations: Violations = Arc::default();
    let two_sources = rng.chance(0.3);
    let file_store = rng.chance(0.2);
    let no_lock = !two_sources && rng.chance(0.3);
    let faults = EndpointFaults {
        transient: rng.unit() * 0.3,
        invalid_grant: if rng.chance(0.3) { 0.01 } else { 0.0 },
        slow: rng.unit() * 0.2,
        hang: rng.unit() * 0.05,
        lost: if rng.chance(0.3) { 0.01 } else { 0.0 },
    };
    let server = Arc::new(Mutex::new(Server {
        rng: Rng::new(rng.next()),
        faults_on: false,
        faults,
        reuse_detection: rng.chance(0.5),
        // (Drawn apart, so that the other draws of a seed stay as they were.)
        rotates: !Rng::new(seed ^ 0x0707_0707).chance(0.3),
        next: 0,
        live_refresh: Some(0),
        rotated: HashSet::new(),
        retired: HashSet::new(),
        access: vec![(0, Instant::now() + Duration::from_secs(30))],
        expires: HashMap::from([(0, Instant::now() + Duration::from_secs(30))]),
        dead_for: Default::default(),
        newest: [None; 2],
        in_flight: [0; 2],
        refused: [0; 2],
        refused_rts: [HashSet::new(), HashSet::new()],
        revoked: false,
        issued: 0,
        lost: 0,
        reuses: Vec::new(),
        logins: 0,
        spurious: [0; 2],
        violations: violations.clone(),
    }));
    let ctl = Arc::new(Mutex::new(StoreCtl {
        rng: Rng::new(rng.next()),
        on: false,
        fail: rng.unit() * 0.25,
        slow: rng.unit() * 0.2,
        hang: if rng.chance(0.3) { 0.01 } else { 0.0 },
        panic: if rng.chance(0.3) { 0.02 } else { 0.0 },
        writes: vec![0],
        lock_faults: 0,
        log: Vec::new(),
    }));
    let policy = if rng.chance(0.5) {
        RefreshPolicy::default()
    } else {
        RefreshPolicy::default()
            .margin(Duration::from_secs(rng.below(120)))
            .min_interval(Duration::from_secs(rng.below(10)))
            .initial_backoff(Duration::from_secs(rng.below(10)))
            .max_backoff(Duration::from_secs(10 + rng.below(300)))
    };
    // A client-credentials source: every fetch asks for a new token.
    let client_credentials = rng.chance(0.15);
    let logins = !client_credentials && rng.chance(0.3);
    let dir = file_store.then(|| TempDir::new(seed));
    let inner_store = |dir: &Option<TempDir>| -> Arc<dyn TokenStore> {
        match dir {
            Some(dir) => Arc::new(FileStore::new(dir.0.join("token.json"))),
            None => unreachable!(),
        }
    };
    let memory = MemoryStore::with_token(starting_token(&clock));
    let stores: Vec<Arc<dyn TokenStore>> = match &dir {
        Some(_) => {
            let first = inner_store(&dir);
            first.save(&starting_token(&clock)).await.unwrap();
            vec![first, inner_store(&dir)]
        }
        None => vec![Arc::new(memory.clone()), Arc::new(memory.clone())],
    };
    let n_sources = if two_sources { 2 } else { 1 };
    let mut sources = Vec::new();
    let mut services = Vec::new();
    for (id, inner) in stores.iter().enumerate().take(n_sources) {
        let grants = GrantClient::new(
            endpoint(server.clone(), id),
            Endpoint::new("https://as.example.com/token").unwrap(),
            Client::secret_basic("client", ClientSecret::new(CLIENT_SECRET)),
        )
        .timeout(EXCHANGE_TIMEOUT)
        // (One clock for the whole run: two `TokioClock`s made at different moments of real
        // time differ by those microseconds while tokio's time is paused, and the tokens'
        // expiries with them.)
        .clock(clock.clone());
        let builder = if client_credentials {
            TokenSource::builder().fetcher(grants.client_credentials_fetcher(None))
        } else {
            TokenSource::builder().fetcher(grants.refresh_fetcher())
        };
        let source = builder
            .store(FaultyStore {
                id,
                no_lock,
                inner: inner.clone(),
                ctl: ctl.clone(),
            })
            .policy(policy)
            .build()
            .await
            .unwrap();
        let svc = OAuth2Layer::new(source.clone(), API)
            .unwrap()
            .layer(api(server.clone()));
        sources.push(source);
        services.push(svc);
    }
    // Followers: sources with the store and no fetcher, each behind a layer of its own (their
    // draws come from an RNG of their own, so that the other draws of a seed stay as they were).
    let mut frng = Rng::new(seed ^ 0xF011_0E25);
    let n_followers = if frng.chance(0.4) {
        1 + frng.below(2) as usize
    } else {
        0
    };
    let (fail, slow, hang, panic) = {
        let c = ctl.lock().unwrap();
        (c.fail, c.slow, c.hang, c.panic)
    };
    let mut f_sources = Vec::new();
    let mut f_services = Vec::new();
    let mut f_warm = Vec::new();
    let mut f_logs: Vec<Shared<FollowerLog>> = Vec::new();
    let mut f_ctls = Vec::new();
    let mut f_first = Vec::new();
    // Their policy: the others', or one of their own (a margin of 0 in some: their token goes
    // stale at the instant it expires).
    let f_policy = if frng.chance(0.5) {
        policy
    } else {
        let margin = if frng.chance(0.4) {
            Duration::ZERO
        } else {
            Duration::from_secs(frng.below(120))
        };
        RefreshPolicy::default()
            .margin(margin)
            .min_interval(Duration::from_secs(frng.below(10)))
            .initial_backoff(Duration::from_secs(frng.below(10)))
            .max_backoff(Duration::from_secs(10 + frng.below(300)))
    };
    // The last one is built in the middle of the run, with the faults on, in some cases.
    let late = (n_followers > 0 && frng.chance(0.4)).then(|| frng.below(150));
    let mut f_stores = Vec::new();
    for fid in 0..n_followers {
        let fctl = Arc::new(Mutex::new(StoreCtl {
            rng: Rng::new(frng.next()),
            on: false,
            fail,
            slow,
            hang,
            panic,
            writes: Vec::new(),
            lock_faults: 0,
            log: Vec::new(),
        }));
        let log: Shared<FollowerLog> = Arc::default();
        let inner: Arc<dyn TokenStore> = match &dir {
            Some(_) => inner_store(&dir),
            None => Arc::new(memory.clone()),
        };
        f_stores.push(FollowerStore {
            inner: FaultyStore {
                id: 2 + fid,
                no_lock: false,
                inner,
                ctl: fctl.clone(),
            },
            log: log.clone(),
            empty_at_build: frng.chance(0.2),
            clock: clock.clone(),
        });
        f_logs.push(log);
        f_ctls.push(fctl);
    }
    let early = n_followers - usize::from(late.is_some());
    for store in f_stores.iter().take(early) {
        let fid = f_sources.len();
        let source = TokenSource::builder()
            .store(store.clone())
            .clock(clock.clone())
            .policy(f_policy)
            .build()
            .await
            .unwrap();
        {
            let mut log = f_logs[fid].lock().unwrap();
            log.built = true;
            log.source = Some(source.clone());
        }
        let svc = OAuth2Layer::new(source.clone(), API)
            .unwrap()
            .layer(follower_api(server.clone(), fid, f_logs[fid].clone()));
        f_first.push(source.current().map(|t| token_serial(&t)));
        f_sources.push(source);
        f_warm.push(Arc::new(tokio::sync::Mutex::new(svc.clone())));
        f_services.push(svc);
    }
    server.lock().unwrap().faults_on = true;
    ctl.lock().unwrap().on = true;
    for fctl in &f_ctls {
        fctl.lock().unwrap().on = true;
    }

    let operations = 150 + rng.below(150);
    let mut callers = Vec::new();
    for op in 0..operations {
        // The late follower is built now (its store may fail, hang or panic: it tries again).
        if late == Some(op) {
            let fid = f_sources.len();
            let mut built = None;
            for _ in 0..30 {
                let store = f_stores[fid].clone();
                // (The run's clock: a TokioClock made now would date tokens by the real time
                // that passed since the run began, not tokio's paused time.)
                let clock = clock.clone();
                let build = tokio::spawn(async move {
                    TokenSource::builder()
                        .store(store)
                        .clock(clock)
                        .policy(f_policy)
                        .build()
                        .await
                });
                match tokio::time::timeout(Duration::from_secs(4 * 3600), build).await {
                    Err(_) => {
                        violation(&violations, "a follower's build never finished".into());
                        break;
                    }
                    Ok(Err(error)) => {
                        violation(
                            &violations,
                            format!("a panic reached a follower's build: {error}"),
                        );
                    }
                    Ok(Ok(Ok(source))) => {
                        built = Some(source);
                        break;
                    }
                    Ok(Ok(Err(error))) => {
                        check_no_secret(
                            &violations,
                            "a follower's build error",
                            &error_text(&error),
                        );
                        if error.kind() != TokenErrorKind::Store {
                            violation(
                                &violations,
                                format!(
                                    "a follower's build failed with {:?}: {error}",
                                    error.kind()
                                ),
                            );
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if let Some(source) = built {
                trace(format_args!(
                    "follower {fid} built late with {:?}",
                    source.current().map(|t| token_serial(&t))
                ));
                {
                    let mut log = f_logs[fid].lock().unwrap();
                    log.built = true;
                    log.source = Some(source.clone());
                }
                let svc = OAuth2Layer::new(source.clone(), API)
                    .unwrap()
                    .layer(follower_api(server.clone(), fid, f_logs[fid].clone()));
                f_first.push(source.current().map(|t| token_serial(&t)));
                f_sources.push(source);
                f_warm.push(Arc::new(tokio::sync::Mutex::new(svc.clone())));
                f_services.push(svc);
            }
        }
        // Now and then the run itself waits for the instant a follower's token expires and
        // sends a request through the follower's warm service at once (polled before the
        // tasks that instant wakes; the answer is awaited in a task of its own).
        if !f_sources.is_empty() && frng.chance(0.03) {
            let fid = frng.below(f_sources.len() as u64) as usize;
            let token = f_sources[fid].current();
            let expires = token.map(|t| server.lock().unwrap().expires[&token_serial(&t)]);
            if let Some(expires) = expires
                && expires > Instant::now()
                && expires - Instant::now() < Duration::from_secs(300)
            {
                tokio::time::sleep_until(expires).await;
                let request = Request::get(format!("{API}/me"))
                    .body(Full::<Bytes>::default())
                    .unwrap();
                let mut svc = f_warm[fid].clone().lock_owned().await;
                if ServiceExt::<Request<Full<Bytes>>>::ready(&mut *svc)
                    .await
                    .is_ok()
                {
                    let future = svc.call(request);
                    drop(svc);
                    callers.push(tokio::spawn(async move {
                        let _ = future.await;
                    }));
                }
            }
        }
        // A follower's request, `token` or `refresh`, now and then, among the others.
        if !f_sources.is_empty() && frng.chance(0.35) {
            let fid = frng.below(f_sources.len() as u64) as usize;
            let cancel_after = frng.chance(0.2).then(|| frng.millis(10_000));
            let v = violations.clone();
            let kind = frng.below(10);
            // Sent at the very instant its token expires, or 1 ms later, in some cases.
            let at_expiry = frng
                .chance(0.15)
                .then(|| Duration::from_millis(frng.below(2)));
            if kind < 7 {
                let svc = f_services[fid].clone();
                // Half through the follower's one long-lived service (its cached entry warm
                // from earlier calls: the fast path), half through a fresh clone.
                let warm = frng.chance(0.5).then(|| f_warm[fid].clone());
                let source = f_sources[fid].clone();
                let server = server.clone();
                callers.push(tokio::spawn(async move {
                    if let Some(offset) = at_expiry
                        && let Some(token) = source.current()
                    {
                        let expires =
                            server.lock().unwrap().expires[&token_serial(&token)] + offset;
                        if expires > Instant::now() {
                            tokio::time::sleep_until(expires).await;
                        }
                    }
                    let request = Request::get(format!("{API}/me"))
                        .body(Full::<Bytes>::default())
                        .unwrap();
                    let call: LayerCall = match warm {
                        Some(warm) => Box::pin(async move {
                            let future = {
                                let mut svc = warm.lock().await;
                                ServiceExt::<Request<Full<Bytes>>>::ready(&mut *svc).await?;
                                svc.call(request)
                            };
                            future.await
                        }),
                        None => Box::pin(svc.oneshot(request)),
                    };
                    let start = Instant::now();
                    let result = match cancel_after {
                        Some(after) => match tokio::time::timeout(after, call).await {
                            Ok(result) => result,
                            Err(_) => return,
                        },
                        None => call.await,
                    };
                    // A wait for a look at the store, and another after a 401.
                    if start.elapsed() > 2 * follower_wait() {
                        violation(
                            &v,
                            format!(
                                "follower {fid}: a request took {:?} ({})",
                                start.elapsed(),
                                if result.is_ok() { "answered" } else { "failed" }
                            ),
                        );
                    }
                    if let Err(error) = result {
                        check_no_secret(&v, "a follower's layer error", &error_text(&*error));
                        // No token to send (none taken up yet past expiry), and nothing else.
                        let kind = layer_error_kind(&error);
                        if kind != Some(TokenErrorKind::NoToken) {
                            violation(
                                &v,
                                format!("follower {fid}'s layer failed with {kind:?}: {error}"),
                            );
                        }
                        if error.downcast_ref::<tower_oauth2::Error>().is_none() {
                            violation(
                                &v,
                                format!(
                                    "follower {fid}'s layer failed with another error: {error}"
                                ),
                            );
                        }
                    }
                }));
            } else {
                let source = f_sources[fid].clone();
                let log = f_logs[fid].clone();
                let server = server.clone();
                callers.push(tokio::spawn(async move {
                    let call = async {
                        if kind == 9 {
                            source.refresh().await
                        } else {
                            source.token().await
                        }
                    };
                    let start = Instant::now();
                    let result = match cancel_after {
                        Some(after) => match tokio::time::timeout(after, call).await {
                            Ok(result) => result,
                            Err(_) => return,
                        },
                        None => call.await,
                    };
                    if start.elapsed() > follower_wait() {
                        violation(
                            &v,
                            format!(
                                "follower {fid}: {} took {:?} ({})",
                                if kind == 9 { "refresh" } else { "token" },
                                start.elapsed(),
                                if result.is_ok() { "answered" } else { "failed" }
                            ),
                        );
                    }
                    match result {
                        Ok(token) => {
                            let n = token_serial(&token);
                            log.lock().unwrap().returned.push(n);
                            let expires = server.lock().unwrap().expires.get(&n).copied();
                            match expires {
                                Some(at) if Instant::now() < at => {}
                                _ => violation(
                                    &v,
                                    format!(
                                        "follower {fid}: {} returned token {n}, expired or never issued ({:?})",
                                        if kind == 9 { "refresh" } else { "token" },
                                        expires.map(|at| Instant::now() - at)
                                    ),
                                ),
                            }
                        }
                        Err(error) => {
                            check_no_secret(&v, "a follower's token error", &error_text(&*error));
                            // No token (past expiry, nothing taken up), or for `refresh` nothing
                            // newer in the store yet.
                            let expected = error.kind() == TokenErrorKind::NoToken
                                || (kind == 9 && error.kind() == TokenErrorKind::Transient);
                            if !expected {
                                violation(
                                    &v,
                                    format!(
                                        "follower {fid}: {} failed with {:?}",
                                        if kind == 9 { "refresh" } else { "token" },
                                        error.kind()
                                    ),
                                );
                            }
                        }
                    }
                }));
            }
        }
        let id = if two_sources && rng.chance(0.4) { 1 } else { 0 };
        let cancel_after = rng.chance(0.2).then(|| rng.millis(10_000));
        let v = violations.clone();
        let x = rng.unit();
        if x < 0.45 {
            let svc = services[id].clone();
            callers.push(tokio::spawn(async move {
                let request = Request::get(format!("{API}/me"))
                    .body(Full::<Bytes>::default())
                    .unwrap();
                let call = svc.oneshot(request);
                let result = match cancel_after {
                    Some(after) => match tokio::time::timeout(after, call).await {
                        Ok(result) => result,
                        Err(_) => return,
                    },
                    None => call.await,
                };
                if let Err(error) = result {
                    check_no_secret(&v, "a layer error", &error_text(&*error));
                    if error.downcast_ref::<tower_oauth2::Error>().is_none() {
                        violation(&v, format!("the layer failed with another error: {error}"));
                    }
                }
            }));
        } else if x < 0.6 {
            let source = sources[id].clone();
            let refresh = rng.chance(0.3);
            callers.push(tokio::spawn(async move {
                let call = async {
                    if refresh {
                        source.refresh().await
                    } else {
                        source.token().await
                    }
                };
                let result = match cancel_after {
                    Some(after) => match tokio::time::timeout(after, call).await {
                        Ok(result) => result,
                        Err(_) => return,
                    },
                    None => call.await,
                };
                if let Err(error) = result {
                    check_no_secret(&v, "a token error", &error_text(&*error));
                }
            }));
        } else if x < 0.62 && logins {
            // The user logs in again: a new grant, saved with `replace_token`.
            let n = server.lock().unwrap().login(id);
            let token = Token::new(AccessToken::new(access_token(n)), TokenType::Bearer)
                .with_refresh_token(Some(RefreshToken::new(refresh_token(n))))
                .with_expires_at(Some(clock.now() + Duration::from_secs(600)));
            trace(format_args!("login: source {id} gets {n}"));
            // One login at a time (two at once would end in either order).
            let _ = sources[id].replace_token(token).await;
        } else if x < 0.85 {
            let steps = [100, 1_000, 5_000, 20_000, 61_000, 120_000, 300_000];
            let step = steps[rng.below(steps.len() as u64) as usize];
            tokio::time::sleep(rng.millis(step)).await;
        } else {
            for _ in 0..rng.below(5) {
                tokio::task::yield_now().await;
            }
        }
    }
    // Every caller ends: fetches and store calls are bounded in time.
    for caller in callers {
        match tokio::time::timeout(Duration::from_secs(4 * 3600), caller).await {
            Err(_) => violation(&violations, "a caller never finished".into()),
            Ok(Err(error)) if error.is_panic() => {
                violation(&violations, format!("a panic reached a caller: {error}"))
            }
            Ok(_) => {}
        }
    }

    // The faults stop; back-offs and background saves run out.
    server.lock().unwrap().faults_on = false;
    ctl.lock().unwrap().on = false;
    for fctl in &f_ctls {
        fctl.lock().unwrap().on = false;
    }
    tokio::time::sleep(Duration::from_secs(1_300)).await;
    for (id, svc) in services.iter().enumerate() {
        let request = Request::get(format!("{API}/me"))
            .body(Full::<Bytes>::default())
            .unwrap();
        let result =
            tokio::time::timeout(Duration::from_secs(3600), svc.clone().oneshot(request)).await;
        let refused = server.lock().unwrap().refused[id];
        match result {
            Err(_) => violation(&violations, format!("source {id}: wedged after the faults")),
            Ok(Ok(response)) if response.status() == StatusCode::OK => {}
            Ok(Ok(response)) => violation(
                &violations,
                format!(
                    "source {id}: {} after the faults stopped",
                    response.status()
                ),
            ),
            Ok(Err(error)) => {
                check_no_secret(&violations, "a layer error", &error_text(&*error));
                let live = server.lock().unwrap().live_refresh;
                let stored = stores[0].load().await.unwrap();
                let stored_rt = stored
                    .as_ref()
                    .and_then(|t| t.refresh_token())
                    .and_then(|r| serial(r.secret(), "RT"));
                if live.is_some() && stored_rt == live {
                    trace(format_args!(
                        "source {id}: refused for good while the store holds the live refresh token"
                    ));
                    let spurious = server.lock().unwrap().spurious[id];
                    // Refused with a token another process or a login replaced since: the
                    // source looks at the store again and takes the live one up.
                    if spurious == 0 {
                        violation(
                            &violations,
                            format!(
                                "source {id}: refused for good while the store holds a live token it was not refused with"
                            ),
                        );
                    }
                    if std::env::var_os("FAULT_MODEL_VERBOSE").is_some() {
                        eprintln!(
                            "seed {seed}: source {id} STUCK (store holds the live refresh token {live:?}; spurious refusals {spurious}, two {two_sources}, logins {})",
                            server.lock().unwrap().logins
                        );
                    }
                }
                let kind = layer_error_kind(&error);
                // (A client-credentials source refused asks again after the longest back-off.)
                if kind != Some(TokenErrorKind::Reauthorize) || refused == 0 || client_credentials {
                    violation(
                        &violations,
                        format!(
                            "source {id}: no recovery after the faults stopped ({kind:?}, {refused} refusals): {error}"
                        ),
                    );
                }
            }
        }
    }
    // Followers' liveness: once the store holds a live token (the refreshing sources' requests
    // above saved it), each follower sends a token at least that new within min_interval (and
    // a second) and a few seconds more; then again past that token's expiry, after a
    // refreshing source's next refresh; and again inside the followers' refresh margin, after
    // a refresh the refreshing source is asked for.
    let window = f_policy.min_interval.max(Duration::from_secs(1)) + Duration::from_secs(6);
    let mut previous: Option<u64> = None;
    for round in 0..3 {
        if f_sources.is_empty() {
            break;
        }
        if let Some(previous) = previous
            && round == 2
        {
            // Inside the followers' refresh margin (each took `previous` up at the latest
            // now, so its margin is at least `margin`), before expiry: the refreshing source
            // is asked to refresh, and the followers take the new token up at their next look.
            let expires = server.lock().unwrap().expires[&previous];
            let margin = f_policy
                .margin
                .min(expires.saturating_duration_since(Instant::now()) / 2);
            if margin < Duration::from_secs(2) {
                break;
            }
            tokio::time::sleep_until(expires - margin / 2).await;
            let _ = tokio::time::timeout(Duration::from_secs(3600), sources[0].refresh()).await;
        } else if let Some(previous) = previous {
            let expires = server.lock().unwrap().expires[&previous];
            tokio::time::sleep_until(expires + Duration::from_secs(1)).await;
            let request = Request::get(format!("{API}/me"))
                .body(Full::<Bytes>::default())
                .unwrap();
            let _ = tokio::time::timeout(
                Duration::from_secs(3600),
                services[0].clone().oneshot(request),
            )
            .await;
        }
        let stored = stores[0].load().await.unwrap().map(|t| token_serial(&t));
        let live = stored.filter(|n| {
            let s = server.lock().unwrap();
            s.access_valid(*n) && s.expires[n] > Instant::now() + window
        });
        let Some(live) = live else {
            trace(format_args!(
                "followers: the store holds no live token ({stored:?}); liveness not checked"
            ));
            break;
        };
        previous = Some(live);
        for (fid, svc) in f_services.iter().enumerate() {
            let deadline = Instant::now() + window;
            loop {
                let request = Request::get(format!("{API}/me"))
                    .body(Full::<Bytes>::default())
                    .unwrap();
                let result = tokio::time::timeout(window, svc.clone().oneshot(request)).await;
                let last = f_logs[fid].lock().unwrap().sent.last().copied();
                let status = match &result {
                    Ok(Ok(response)) => Ok(response.status()),
                    Ok(Err(error)) => {
                        check_no_secret(
                            &violations,
                            "a follower's layer error",
                            &error_text(&**error),
                        );
                        Err(error.to_string())
                    }
                    Err(_) => Err("no answer".to_owned()),
                };
                if status == Ok(StatusCode::OK) && last.is_some_and(|n| n >= live) {
                    break;
                }
                if Instant::now() >= deadline {
                    violation(
                        &violations,
                        format!(
                            "follower {fid}: {window:?} after the store holds live token {live}, a request ends with {status:?}, last sent token {last:?}"
                        ),
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    // A 401: the server revokes the token the followers took up last (the refreshing source
    // has refreshed and saved a new one); a follower that still holds it is refused, looks at
    // the store, and sends the request again with the new token: one call, answered 200.
    if let Some(revoked) = previous {
        let wait = policy.min_interval.max(f_policy.min_interval);
        tokio::time::sleep(wait.max(Duration::from_secs(1)) + Duration::from_secs(1)).await;
        let refreshed = tokio::time::timeout(Duration::from_secs(3600), sources[0].refresh()).await;
        let stored = stores[0].load().await.unwrap().map(|t| token_serial(&t));
        let fresh = stored.filter(|n| {
            let s = server.lock().unwrap();
            *n > revoked
                && s.access_valid(*n)
                && s.expires[n] > Instant::now() + Duration::from_secs(15)
        });
        if let (Ok(Ok(_)), Some(fresh)) = (refreshed, fresh) {
            server.lock().unwrap().access.retain(|(n, _)| *n != revoked);
            for (fid, warm) in f_warm.iter().enumerate() {
                if f_sources[fid].current().map(|t| token_serial(&t)) != Some(revoked) {
                    continue;
                }
                let request = Request::get(format!("{API}/me"))
                    .body(Full::<Bytes>::default())
                    .unwrap();
                // Through the warm service: its cached entry holds the revoked token, which
                // its fast path sends.
                let call = async {
                    let future = {
                        let mut svc = warm.lock().await;
                        ServiceExt::<Request<Full<Bytes>>>::ready(&mut *svc).await?;
                        svc.call(request)
                    };
                    future.await
                };
                let result = tokio::time::timeout(Duration::from_secs(60), call).await;
                let last = f_logs[fid].lock().unwrap().sent.last().copied();
                let answered =
                    matches!(&result, Ok(Ok(response)) if response.status() == StatusCode::OK);
                if !answered || last != Some(fresh) {
                    violation(
                        &violations,
                        format!(
                            "follower {fid}: its token {revoked} refused (401) with {fresh} in the store: the request ends {:?}, last sent {last:?}",
                            result.map(|r| r
                                .map(|response| response.status())
                                .map_err(|e| e.to_string()))
                        ),
                    );
                }
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1_300)).await;

    // A lone source's token whose save failed is saved by the background retries once the
    // store works again (none is stored over by another process), unless its grant was refused.
    if !two_sources && sources[0].has_unsaved_token() && server.lock().unwrap().refused[0] == 0 {
        violation(
            &violations,
            format!(
                "source 0: still unsaved long after the faults stopped (current {:?}, stored {:?})",
                sources[0].current().map(|t| token_serial(&t)),
                stores[0].load().await.unwrap().map(|t| token_serial(&t)),
            ),
        );
    }
    // Not checked with two processes when one wrote without the store's lock (it failed: the
    // writes can land in any order), or when either logged in: `replace_token` does not read
    // the store, so the other process's older login may be the token it finds there next and
    // takes up (the store's token wins over an unsaved one, by design).
    let processes_race =
        two_sources && (ctl.lock().unwrap().lock_faults > 0 || server.lock().unwrap().logins > 0);
    // The store never goes back to an older token.
    if let Some((last, n)) = ctl.lock().unwrap().went_back()
        && !processes_race
    {
        violation(
            &violations,
            format!("the store went back from token {last} to token {n}"),
        );
    }
    // No lost token: the newest token each source received is in the store (or a newer one
    // is), or the source says it is unsaved.
    let stored = stores[0].load().await.unwrap().map(|t| token_serial(&t));
    for (id, source) in sources.iter().enumerate() {
        let newest = server.lock().unwrap().newest[id];
        if let Some(newest) = newest
            && !processes_race
            && stored.is_none_or(|stored| stored < newest)
            && !source.has_unsaved_token()
        {
            violation(
                &violations,
                format!(
                    "source {id}: token {newest} lost (store holds {stored:?}, current {:?}, not reported unsaved)",
                    source.current().map(|t| token_serial(&t))
                ),
            );
        }
    }
    // Followers never write to the store nor take its refresh lock; they read it at most once
    // per max(min_interval, 1 s) after their build, or, when their token ends sooner than four
    // times that, once per a quarter of the time left (but at most four times a second); they
    // never go back to an older token than
    // one they sent (unless the store itself went back); every token they used other than their
    // first was taken up by a look (`fetch_count`), and each look is one load.
    let went_back = ctl.lock().unwrap().went_back();
    let interval = f_policy.min_interval.max(Duration::from_secs(1));
    for (fid, source) in f_sources.iter().enumerate() {
        let mut log = f_logs[fid].lock().unwrap();
        log.source = None;
        if log.writes > 0 {
            violation(
                &violations,
                format!("follower {fid} wrote to the store {} times", log.writes),
            );
        }
        if log.locks > 0 {
            violation(
                &violations,
                format!(
                    "follower {fid} took the store's refresh lock {} times",
                    log.locks
                ),
            );
        }
        let allowed = |left: Option<Duration>| match left {
            Some(left) => interval.min((left / 4).max(Duration::from_millis(250))),
            None => interval,
        };
        if let Some(w) = log
            .loads
            .windows(2)
            .find(|w| w[1].0 - w[0].0 < allowed(w[1].1))
        {
            violation(
                &violations,
                format!(
                    "follower {fid}: two loads {:?} apart (at most one per {:?}, {:?} left on its token); {} loads after its build",
                    w[1].0 - w[0].0,
                    allowed(w[1].1),
                    w[1].1,
                    log.loads.len()
                ),
            );
        }
        if went_back.is_none()
            && let Some(w) = log.sent.windows(2).find(|w| w[1] < w[0])
        {
            violation(
                &violations,
                format!(
                    "follower {fid} went back from token {} to token {}",
                    w[0], w[1]
                ),
            );
        }
        // (Nor one loaded from the store at build: `store_follower.rs`,
        // `a_token_loaded_from_the_store_is_not_unsaved`.)
        if source.has_unsaved_token() {
            violation(
                &violations,
                format!("follower {fid} reports an unsaved token"),
            );
        }
        let fetches = source.fetch_count();
        let used: HashSet<u64> = log
            .sent
            .iter()
            .chain(&log.returned)
            .copied()
            .filter(|n| Some(*n) != f_first[fid])
            .collect();
        // Each take-up, as the source's rules say: a look whose load found a token that is not
        // the one it last took up (or found at its build), nor the one in use, and that has
        // not expired. (One look at a time: the loads answer in order.)
        let mut take_ups = 0u64;
        let mut known = log.build_found.flatten();
        let mut current = f_first[fid];
        for &found in &log.found {
            if let Some((n, live)) = found
                && Some(n) != known
                && Some(n) != current
                && live
            {
                take_ups += 1;
                known = Some(n);
                current = Some(n);
            }
        }
        if take_ups != fetches {
            violation(
                &violations,
                format!(
                    "follower {fid}: fetch_count {fetches}, but {take_ups} of its loads found a live token to take up ({:?})",
                    log.found
                        .iter()
                        .map(|found| found.map(|(n, _)| n))
                        .collect::<Vec<_>>()
                ),
            );
        }
        if used.len() as u64 > fetches || fetches > log.loads.len() as u64 {
            violation(
                &violations,
                format!(
                    "follower {fid}: fetch_count {fetches}, {} tokens used after its first, {} loads after its build",
                    used.len(),
                    log.loads.len()
                ),
            );
        }
    }
    {
        let s = server.lock().unwrap();
        let c = ctl.lock().unwrap();
        // With a store that answers every call (slowly at most) and no answer lost after a
        // rotation, no source ever sends a refresh token rotated away, by anyone.
        if c.log.is_empty() && s.lost == 0 && !s.reuses.is_empty() {
            // (A login while a refresh is in flight retires the old grant: not counted.)
            violation(
                &violations,
                format!(
                    "rotated-away refresh tokens sent with no store fault: {:?}",
                    s.reuses
                ),
            );
        }
        // A lone source sends a rotated-away refresh token only after an answer was lost.
        if !two_sources && s.lost == 0 && !s.reuses.is_empty() {
            violation(
                &violations,
                format!(
                    "rotated-away refresh tokens sent with no store fault: {:?}",
                    s.reuses
                ),
            );
        }
    }
    let found = violations.lock().unwrap().clone();
    if std::env::var_os("FAULT_MODEL_VERBOSE").is_some() {
        let s = server.lock().unwrap();
        let c = ctl.lock().unwrap();
        eprintln!(
            "seed {seed}: ops={operations} two={two_sources} file={file_store} cc={client_credentials} issued={} refused={:?} revoked={} writes={} lock_faults={} fetches={:?} unsaved={:?}",
            s.issued,
            s.refused,
            s.revoked,
            c.writes.len(),
            c.lock_faults,
            sources
                .iter()
                .map(TokenSource::fetch_count)
                .collect::<Vec<_>>(),
            sources
                .iter()
                .map(TokenSource::has_unsaved_token)
                .collect::<Vec<_>>(),
        );
        for (fid, log) in f_logs.iter().enumerate() {
            let log = log.lock().unwrap();
            eprintln!(
                "   follower {fid}: sent {} (distinct {}), returned {}, build loads {}, loads {}, fetches {}, faults {}",
                log.sent.len(),
                log.sent.iter().collect::<HashSet<_>>().len(),
                log.returned.len(),
                log.build_loads,
                log.loads.len(),
                f_sources[fid].fetch_count(),
                f_ctls[fid].lock().unwrap().log.len(),
            );
        }
        if s.revoked {
            eprintln!(
                "   lost={} reuses={:?} store faults={:?}",
                s.lost, s.reuses, c.log
            );
        }
    }
    if !found.is_empty() {
        let s = server.lock().unwrap();
        let c = ctl.lock().unwrap();
        let mut found = found;
        found.push(format!(
            "case: followers={n_followers} late={late:?} f_policy={f_policy:?} two_sources={two_sources} file_store={file_store} client_credentials={client_credentials} reuse_detection={} rotates={} faults={faults:?} store fail={:.2} slow={:.2} hang={:.2} panic={:.2} lock_faults={} issued={} revoked={}",
            s.reuse_detection, s.rotates, c.fail, c.slow, c.hang, c.panic, c.lock_faults, s.issued, s.revoked
        ));
        return found;
    }
    found
}

/// Silences the panics the store injects (they are caught by the source), and no others.
fn quiet_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let injected = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.starts_with("injected"));
        if !injected {
            default(info);
        }
    }));
}

#[test]
fn seeded_fault_runs_keep_the_source_and_layer_invariants() {
    quiet_injected_panics();
    let seeds: Vec<u64> = match std::env::var("FAULT_MODEL_SEED") {
        Ok(seed) => vec![seed.parse().expect("FAULT_MODEL_SEED is a number")],
        Err(_) => {
            let cases = std::env::var("FAULT_MODEL_CASES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(200u64);
            {
                let base: u64 = std::env::var("FAULT_MODEL_BASE")
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0x5EED_0000);
                (0..cases).map(|i| base + i).collect()
            }
        }
    };
    let mut failures = Vec::new();
    for seed in seeds {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(run_case(seed))
        }))
        .unwrap_or_else(|_| vec!["the run panicked".to_owned()]);
        drop(runtime);
        if !found.is_empty() {
            eprintln!("seed {seed} (replay: FAULT_MODEL_SEED={seed}):");
            for f in &found {
                eprintln!("  {f}");
            }
            failures.push(seed);
        }
    }
    assert!(
        failures.is_empty(),
        "{} seeds broke an invariant (replay one with FAULT_MODEL_SEED=<seed>): {failures:?}",
        failures.len()
    );
}

/// Seed 1592590397 of the run above, minimized. A refreshed token's save reports a failure
/// but lands (t2 is in the store); the next refresh (r2 -> t3) fails to save before writing.
/// At the next refresh the store holds t2, which this source wrote itself and whose refresh
/// token it has spent: it must refresh with r3, not take t2 up as "another process's" token and
/// send the rotated-away r2 (a server with reuse detection revokes the grant for it; one
/// without answers `invalid_grant`, and the source declared the grant dead while it held the
/// only good refresh token, r3).
#[tokio::test(start_paused = true)]
async fn a_token_the_source_saved_itself_is_not_taken_up_as_another_processs() {
    use oauth_core::oauth2::RefreshPolicy;
    use tower_oauth2::source::TokenError;
    let store = ScriptedStore::new(MemoryStore::with_token(common::bearer_expiring_in(
        "a1", "r1", -10,
    )));
    // The first save lands and reports a failure (a save cut off by its deadline that lands
    // all the same); the second fails before writing; the others succeed.
    let failure = "injected store failure";
    store.next(
        Op::Save,
        [Action::FailAfter(failure), Action::Fail(failure)],
    );
    let sent: Shared<Vec<String>> = Arc::default();
    let log = sent.clone();
    let source = TokenSource::builder()
        .store(store.clone())
        // Background saves only after the scenario.
        .policy(
            RefreshPolicy::default()
                .initial_backoff(Duration::from_secs(1000))
                .max_backoff(Duration::from_secs(1000)),
        )
        .fetcher(move |current: Option<&Token>| {
            let rt = current
                .and_then(|t| t.refresh_token())
                .map(|r| r.secret().to_owned())
                .unwrap_or_default();
            log.lock().unwrap().push(rt.clone());
            async move {
                match rt.as_str() {
                    "r1" => Ok(common::bearer_expiring_in("a2", "r2", 100)),
                    "r2" => Ok(common::bearer_expiring_in("a3", "r3", 100)),
                    "r3" => Ok(common::bearer_expiring_in("a4", "r4", 100)),
                    _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
                }
            }
        })
        .build()
        .await
        .unwrap();

    let t2 = source.token().await.unwrap();
    assert_eq!(t2.access_token().secret(), "a2");
    assert_eq!(store.inner().get().unwrap().access_token().secret(), "a2");
    tokio::time::sleep(Duration::from_secs(101)).await;
    let t3 = source.token().await.unwrap();
    assert_eq!(t3.access_token().secret(), "a3");
    assert!(source.has_unsaved_token());
    tokio::time::sleep(Duration::from_secs(101)).await;
    let t4 = source.token().await;
    assert_eq!(
        *sent.lock().unwrap(),
        ["r1", "r2", "r3"],
        "r2 is never sent twice"
    );
    assert_eq!(t4.unwrap().access_token().secret(), "a4");
    assert_eq!(store.inner().get().unwrap().access_token().secret(), "a4");
    assert!(!source.has_unsaved_token());
}

/// Seed 1592590917 of the run above, minimized. `replace_token` (with a token that needs a
/// refresh at once) runs while a refresh reads the store (a store that takes no refresh lock,
/// or whose lock failed): the refresh takes the replacing token up from the store and spends
/// its refresh token, and then drops what it got, because the token was replaced meanwhile;
/// the refresh that follows sends the same refresh token again (a server with reuse detection
/// revokes the new grant; one without answers `invalid_grant`). The replacing token's refresh
/// token must be spent once, and its result kept.
#[tokio::test(start_paused = true)]
async fn a_refresh_racing_replace_token_does_not_spend_the_new_refresh_token_for_nothing() {
    use tower_oauth2::source::TokenError;
    // A store with no refresh lock (the trait's default) whose loads take a second.
    let store = ScriptedStore::new(MemoryStore::new());
    store.always(Op::Load, Action::Delay(Duration::from_secs(1)));
    let sent: Shared<Vec<String>> = Arc::default();
    let log = sent.clone();
    let source = TokenSource::builder()
        .token(common::bearer_expiring_in("a1", "r1", -10))
        .store(store.clone())
        .fetcher(move |current: Option<&Token>| {
            let rt = current
                .and_then(|t| t.refresh_token())
                .map(|r| r.secret().to_owned())
                .unwrap_or_default();
            let first = {
                let mut log = log.lock().unwrap();
                log.push(rt.clone());
                log.iter().filter(|sent| **sent == rt).count() == 1
            };
            async move {
                match rt.as_str() {
                    "r1" => Ok(common::bearer_expiring_in("a2", "r2", 3600)),
                    "r9" if first => Ok(common::bearer_expiring_in("a10", "r10", 3600)),
                    _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
                }
            }
        })
        .build()
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    // The refresh is reading the store now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    source
        .replace_token(common::bearer_expiring_in("a9", "r9", -10))
        .await
        .unwrap();
    let token = waiting.await.unwrap().unwrap();
    assert_eq!(token.access_token().secret(), "a10");
    assert_eq!(
        sent.lock().unwrap().iter().filter(|rt| *rt == "r9").count(),
        1,
        "r9 is spent once: {:?}",
        sent.lock().unwrap()
    );
    assert_eq!(source.current().unwrap().access_token().secret(), "a10");
    assert_eq!(store.inner().get().unwrap().access_token().secret(), "a10");
}
