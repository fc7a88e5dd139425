//! What the library logs, captured for the tests that check it.
// Each test binary compiles this module on its own and uses only some of its items.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::Level;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Everything written so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A subscriber interested in every callsite, registered for the whole run and no thread's
/// default, so it receives no event. Why: `tracing` caches each callsite's interest for the
/// whole process, the first time the callsite is reached; while at most one dispatcher is
/// registered it asks only the reaching thread's default. A sibling test thread with no
/// subscriber that reaches a `warn!` first (between this test's install and its event) caches
/// "never", and the event is then dropped on every thread, this test's capture included:
/// the log came back without it, now and then, under a loaded parallel run. With this one
/// registered too, interest is the union over every registered dispatcher.
struct Anchor;

impl tracing::Subscriber for Anchor {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

static ANCHOR: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();

/// A TRACE subscriber for this thread, writing into the returned log, until the guard drops.
pub(crate) fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
    ANCHOR.get_or_init(|| tracing::Dispatch::new(Anchor));
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // (Callsites some thread cached as "never" before: asked again, of every dispatcher.)
    tracing::callsite::rebuild_interest_cache();
    (log, guard)
}
