//! The providers against a scripted server on loopback ([`server`]): the wire formats,
//! streams cut at awkward places, retries (their waits recorded, not taken), timeouts,
//! and keys that never leak. Every exchange runs under a time limit, so a hang fails.

mod ollama;
mod openai;
mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::transport::{Sleeper, Transport};
use super::*;
use crate::Error;

/// The key the tests send; it must never appear in errors or `Debug` output.
const KEY: &str = "sk-test-7f3a9c1e-super-secret";

/// Options with short waits, no jitter and the usual three attempts.
fn options(key: Option<&str>) -> ClientOptions {
    ClientOptions {
        api_key: key.map(ApiKey::new),
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
            idle: Duration::from_secs(5),
        },
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            jitter: false,
        },
        temperature: None,
    }
}

/// Makes `transport` record the waits it asks for and return from them at once; returns
/// the record.
fn record_waits(transport: &mut Transport) -> Arc<Mutex<Vec<Duration>>> {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&waits);
    let sleeper: Sleeper = Arc::new(move |wait| {
        log.lock().expect("the wait log").push(wait);
        Box::pin(std::future::ready(()))
    });
    transport.set_sleeper(sleeper);
    waits
}

fn waits_of(waits: &Arc<Mutex<Vec<Duration>>>) -> Vec<Duration> {
    waits.lock().expect("the wait log").clone()
}

/// Runs `future` with a generous limit, so a hang fails the test instead of stalling it.
async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), future).await.expect("the exchange finished in time")
}

/// The kind and attempt count of an LLM error, or a panic naming what came instead.
fn llm_error<T: std::fmt::Debug>(result: crate::Result<T>) -> (LlmErrorKind, u32, Error) {
    match result {
        Err(Error::Llm { kind, attempts, provider }) => {
            let again = Error::Llm { kind: kind.clone(), attempts, provider };
            (kind, attempts, again)
        }
        other => panic!("expected an LLM error, got {other:?}"),
    }
}

/// Checks that neither the error's message nor its `Debug` holds the key.
fn assert_no_key(error: &Error) {
    let (shown, debug) = (error.to_string(), format!("{error:?}"));
    assert!(!shown.contains(KEY) && !debug.contains(KEY), "the key leaked: {shown} / {debug}");
}

/// Splits `stream` at the byte offsets `cuts` (in any order).
fn cut(stream: &str, cuts: &[usize]) -> Vec<Vec<u8>> {
    let bytes = stream.as_bytes();
    let mut cuts = cuts.to_vec();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut from = 0;
    for at in cuts {
        pieces.push(bytes[from..at].to_vec());
        from = at;
    }
    pieces.push(bytes[from..].to_vec());
    pieces
}
