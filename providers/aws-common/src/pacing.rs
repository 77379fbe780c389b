//! Throttling: AWS allows only a few write calls per second per account (`PutParameter`,
//! `PutSecretValue`). Every
//! call goes through one [`Pacer`] per run: calls are spaced by an interval that
//! doubles when AWS answers `ThrottlingException` and shrinks again on success, so many
//! secrets rotated at once slow down together instead of each hammering the API; a
//! throttled call is retried with exponential backoff and jitter, and each retry is
//! announced on stderr ("throttled, retrying").

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Attempts per call before a throttled call gives up.
pub const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    interval: Duration,
    next: Instant,
}

const MAX_INTERVAL: Duration = Duration::from_secs(2);

impl Pacer {
    pub fn new() -> Pacer {
        Pacer {
            state: Mutex::new(State {
                interval: Duration::ZERO,
                next: Instant::now(),
            }),
        }
    }

    /// The interval calls are spaced by now.
    pub fn interval(&self) -> Duration {
        self.state.lock().expect("pacer poisoned").interval
    }

    async fn turn(&self) {
        let wait = {
            let mut s = self.state.lock().expect("pacer poisoned");
            let now = Instant::now();
            let at = s.next.max(now);
            s.next = at + s.interval;
            at - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn throttled(&self) {
        let mut s = self.state.lock().expect("pacer poisoned");
        s.interval = (s.interval * 2)
            .max(Duration::from_millis(50))
            .min(MAX_INTERVAL);
    }

    fn succeeded(&self) {
        let mut s = self.state.lock().expect("pacer poisoned");
        s.interval = if s.interval < Duration::from_millis(5) {
            Duration::ZERO
        } else {
            s.interval * 3 / 4
        };
    }

    /// Runs `call`, retrying it while AWS throttles it.
    pub async fn call<T, E, R, F, Fut>(
        &self,
        location: &str,
        action: &str,
        call: F,
    ) -> Result<T, SdkError<E, R>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata,
    {
        let mut attempt = 1;
        loop {
            self.turn().await;
            match call().await {
                Err(e) if is_throttling(&e) && attempt < MAX_ATTEMPTS => {
                    self.throttled();
                    let backoff = backoff(attempt);
                    rotor_provider::warn_line(&format!(
                        "rotor: {location}: {action} throttled by AWS, retrying in {} ms (attempt {}/{MAX_ATTEMPTS})",
                        backoff.as_millis(),
                        attempt + 1
                    ));
                    tokio::time::sleep(backoff).await;
                    attempt += 1;
                }
                other => {
                    if other.is_ok() {
                        self.succeeded();
                    }
                    return other;
                }
            }
        }
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

pub fn is_throttling<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(
        e.code(),
        Some("ThrottlingException" | "TooManyUpdates" | "Throttling")
    )
}

/// 100 ms doubling per attempt, at most 5 s, with up to a quarter of jitter.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(100) * 2u32.saturating_pow(attempt - 1);
    let base = base.min(Duration::from_secs(5));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base / 4 * (nanos % 1000) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_grows_on_throttling_and_shrinks_on_success() {
        let p = Pacer::new();
        assert_eq!(p.interval(), Duration::ZERO);
        p.throttled();
        p.throttled();
        assert_eq!(p.interval(), Duration::from_millis(100));
        for _ in 0..30 {
            p.throttled();
        }
        assert_eq!(p.interval(), MAX_INTERVAL);
        for _ in 0..40 {
            p.succeeded();
        }
        assert_eq!(p.interval(), Duration::ZERO);
    }

    #[test]
    fn backoff_doubles_up_to_a_bound() {
        assert!(
            backoff(1) >= Duration::from_millis(100) && backoff(1) <= Duration::from_millis(125)
        );
        assert!(backoff(3) >= Duration::from_millis(400));
        assert!(backoff(20) <= Duration::from_millis(6250));
    }
}
