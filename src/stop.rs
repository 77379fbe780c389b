//! SIGTERM and SIGINT (a CronJob's deadline, Ctrl-C) during a command that writes.
//!
//! The first signal asks the run to stop at the next safe point: a write already sent
//! finishes and is journaled, no new write starts, a monitor stops waiting (it is safe to
//! repeat), and every secret's journal is saved where it stands. The command then says
//! what was done and what `rotor resume` will do, and exits with
//! [`exit::INTERRUPTED`](crate::error::exit::INTERRUPTED). A second signal exits at once
//! with the same code: the journals are written atomically after every write, so even
//! that is resumable.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

/// Whether, and by which signal, a stop was asked for. `Stop::default()` is never asked.
#[derive(Debug, Default)]
pub struct Stop {
    signal: OnceLock<&'static str>,
    notify: tokio::sync::Notify,
    received: AtomicU8,
}

impl Stop {
    /// Listens for SIGTERM and SIGINT from now on (in place of their default, which
    /// would end the process mid-step).
    pub fn listen() -> Arc<Stop> {
        let stop = Arc::new(Stop::default());
        for (kind, name) in [
            (tokio::signal::unix::SignalKind::terminate(), "SIGTERM"),
            (tokio::signal::unix::SignalKind::interrupt(), "SIGINT"),
        ] {
            let Ok(mut stream) = tokio::signal::unix::signal(kind) else {
                continue;
            };
            let s = Arc::clone(&stop);
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    s.request(name);
                }
            });
        }
        stop
    }

    /// Records a stop asked for by `signal` (the second one exits at once).
    pub fn request(&self, signal: &'static str) {
        if self.received.fetch_add(1, Ordering::SeqCst) > 0 {
            rotor_provider::warn_line(&format!(
                "rotor: {signal} again: stopping now; the journals stand as last saved, `rotor resume` finishes"
            ));
            std::process::exit(crate::error::exit::INTERRUPTED);
        }
        let _ = self.signal.set(signal);
        rotor_provider::warn_line(&format!(
            "rotor: {signal} received: stopping at the next safe point (a write in flight finishes and is journaled)"
        ));
        self.notify.notify_waiters();
    }

    /// The signal that asked for a stop, if one did.
    pub fn requested(&self) -> Option<&'static str> {
        self.signal.get().copied()
    }

    /// Resolves once a stop is asked for.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.requested().is_some() {
                return;
            }
            notified.await;
        }
    }
}
