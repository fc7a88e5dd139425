//! One token store for the tests whose store misbehaves: [`ScriptedStore`] wraps another store
//! and, per operation, fails, hangs, waits for a [`Gate`], panics, is slow, or fails after
//! writing, as the test scripts it, counting every call.
//!
//! A test scripts an operation "from now on" ([`ScriptedStore::always`], a switch it can flip
//! again) or for its next calls ([`ScriptedStore::next`], in order, before the standing action).
// Each test binary compiles this module on its own and uses only some of its items.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tokio::sync::Notify;
use tower_oauth2::store::{MemoryStore, RefreshLock, StoreError, StoreFuture, TokenStore};

/// A [`TokenStore`] operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Load,
    Save,
    CompareAndSwap,
    LockRefresh,
    GrantRevoked,
}

impl Op {
    /// In declaration order.
    const ALL: [Op; 5] = [
        Op::Load,
        Op::Save,
        Op::CompareAndSwap,
        Op::LockRefresh,
        Op::GrantRevoked,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Load => "load",
            Op::Save => "save",
            Op::CompareAndSwap => "compare_and_swap",
            Op::LockRefresh => "lock_refresh",
            Op::GrantRevoked => "grant_revoked",
        }
    }

    fn error(self, cause: &'static str) -> StoreError {
        StoreError::new(self.name(), Some(cause.into()))
    }
}

/// What one call does.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// Calls the inner store.
    Pass,
    /// Answers without calling the inner store: a load finds nothing (the token was deleted
    /// elsewhere), a save or `grant_revoked` does nothing, `compare_and_swap` does not swap,
    /// `lock_refresh` takes no lock (the trait's default, for a store one source uses).
    Skip,
    /// Fails, without calling the inner store, with this cause (a full disk, a database
    /// fail-over).
    Fail(&'static str),
    /// Calls the inner store (a save lands), then fails all the same, with this cause (a save
    /// cut off by its deadline that landed).
    FailAfter(&'static str),
    /// Waits this long, then calls the inner store.
    Delay(Duration),
    /// Never answers (a hung database connection, a lock another process holds for ever).
    Hang,
    /// Waits until the gate opens, then calls the inner store.
    WaitFor(Gate),
    /// Panics when called, before a future exists (a driver's `unwrap`).
    PanicOnCall,
    /// Panics when its future is polled.
    PanicOnPoll,
}

/// The script of one operation.
#[derive(Debug)]
struct Script {
    next: VecDeque<Action>,
    always: Action,
    calls: usize,
}

/// A store wrapping `inner` whose calls go as scripted (by default: every call passes to
/// `inner`, except `lock_refresh`, which takes no lock as the trait's default does, unless
/// scripted [`Action::Pass`]). Clones share the script and the counts.
#[derive(Clone)]
pub(crate) struct ScriptedStore<S = MemoryStore> {
    inner: S,
    /// By operation, in the order of [`Op`] (indexed by `op as usize`).
    scripts: Arc<Mutex<[Script; 5]>>,
}

impl<S: TokenStore> ScriptedStore<S> {
    /// `inner`, with every call passed to it (and no refresh lock).
    pub(crate) fn new(inner: S) -> Self {
        let scripts = Op::ALL.map(|op| Script {
            next: VecDeque::new(),
            always: if op == Op::LockRefresh {
                Action::Skip
            } else {
                Action::Pass
            },
            calls: 0,
        });
        Self {
            inner,
            scripts: Arc::new(Mutex::new(scripts)),
        }
    }

    /// The wrapped store (what "another process" reads and writes, unscripted and uncounted).
    pub(crate) fn inner(&self) -> &S {
        &self.inner
    }

    /// From now on, the calls of `op` do `action` (once those queued by [`Self::next`] are
    /// done).
    pub(crate) fn always(&self, op: Op, action: Action) {
        self.scripts()[op as usize].always = action;
    }

    /// The next calls of `op` do `actions`, in order (after any queued before), then the
    /// standing action again.
    pub(crate) fn next(&self, op: Op, actions: impl IntoIterator<Item = Action>) {
        self.scripts()[op as usize].next.extend(actions);
    }

    /// How many calls of `op` were made so far.
    pub(crate) fn calls(&self, op: Op) -> usize {
        self.scripts()[op as usize].calls
    }

    fn scripts(&self) -> std::sync::MutexGuard<'_, [Script; 5]> {
        self.scripts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a call of `op` and does what its script says: `call` is the inner store's call,
    /// `skipped` the answer of [`Action::Skip`].
    fn run<'a, T: Send + 'a>(
        &'a self,
        op: Op,
        skipped: T,
        call: impl FnOnce() -> StoreFuture<'a, T> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let action = {
            let mut scripts = self.scripts();
            let script = &mut scripts[op as usize];
            script.calls += 1;
            script
                .next
                .pop_front()
                .unwrap_or_else(|| script.always.clone())
        };
        match action {
            Action::Pass => call(),
            Action::Skip => Box::pin(async move { Ok(skipped) }),
            Action::Fail(cause) => Box::pin(async move { Err(op.error(cause)) }),
            Action::FailAfter(cause) => Box::pin(async move {
                call().await?;
                Err(op.error(cause))
            }),
            Action::Delay(wait) => Box::pin(async move {
                tokio::time::sleep(wait).await;
                call().await
            }),
            Action::Hang => Box::pin(std::future::pending()),
            Action::WaitFor(gate) => Box::pin(async move {
                gate.pass().await;
                call().await
            }),
            Action::PanicOnCall => panic!("scripted panic calling {}", op.name()),
            Action::PanicOnPoll => {
                Box::pin(async move { panic!("scripted panic polling {}", op.name()) })
            }
        }
    }
}

impl<S: TokenStore> TokenStore for ScriptedStore<S> {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        self.run(Op::Load, None, move || self.inner.load())
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        self.run(Op::Save, (), move || self.inner.save(token))
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        self.run(Op::CompareAndSwap, false, move || {
            self.inner.compare_and_swap(expected, token)
        })
    }

    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        self.run(Op::LockRefresh, RefreshLock::none(), move || {
            self.inner.lock_refresh()
        })
    }

    fn grant_revoked<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        self.run(Op::GrantRevoked, (), move || {
            self.inner.grant_revoked(token)
        })
    }

    fn saves_starting_token(&self) -> bool {
        self.inner.saves_starting_token()
    }
}

/// A gate store calls can wait at ([`Action::WaitFor`]) until the test opens it; it stays
/// open.
#[derive(Clone, Debug, Default)]
pub(crate) struct Gate(Arc<GateState>);

#[derive(Debug, Default)]
struct GateState {
    open: AtomicBool,
    opened: Notify,
    waiting: Notify,
}

impl Gate {
    /// Returns once a call has come to wait at the gate (at once if one came already). Panics
    /// if none comes within an hour (at once, on a paused clock with nothing else to wait
    /// for), so that a store call that never comes fails the test instead of hanging it.
    pub(crate) async fn entered(&self) {
        tokio::time::timeout(Duration::from_secs(3600), self.0.waiting.notified())
            .await
            .expect("no store call came to the gate");
    }

    /// Lets the calls waiting through, and every later one.
    pub(crate) fn open(&self) {
        self.0.open.store(true, Ordering::SeqCst);
        self.0.opened.notify_waiters();
    }

    async fn pass(&self) {
        let opened = self.0.opened.notified();
        if self.0.open.load(Ordering::SeqCst) {
            return;
        }
        self.0.waiting.notify_one();
        opened.await;
    }
}

impl ScriptedStore {
    /// A memory store holding `token`, every call passed to it.
    pub(crate) fn holding(token: Token) -> Self {
        Self::new(MemoryStore::with_token(token))
    }
}

/// A source that follows `store` (a store and no fetcher), built from what it holds.
pub(crate) async fn follower(store: &ScriptedStore) -> tower_oauth2::TokenSource {
    tower_oauth2::TokenSource::builder()
        .store(store.clone())
        .build()
        .await
        .unwrap()
}
