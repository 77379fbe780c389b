//! Group commit: when several secrets run at once, one fsync makes durable every write
//! finished before it started, instead of one fsync per write.
//!
//! A writer finishes its write, takes a ticket with [`GroupSync::wrote`], and awaits
//! [`GroupSync::sync`] with it. Syncs pass a gate one at a time; whoever passes first
//! runs the fsync (on a blocking thread, so requests of other secrets go on) and covers
//! every ticket handed out so far; the writers behind it find their ticket covered and
//! return at once.

use std::cell::Cell;

#[derive(Debug, Default)]
pub struct GroupSync {
    written: Cell<u64>,
    synced: Cell<u64>,
    gate: tokio::sync::Mutex<()>,
}

impl GroupSync {
    /// Records a finished write; returns its ticket.
    pub fn wrote(&self) -> u64 {
        let ticket = self.written.get() + 1;
        self.written.set(ticket);
        ticket
    }

    /// Returns once write `ticket` is durable, running `fsync` if no sync since covers it.
    pub async fn sync<F>(&self, ticket: u64, fsync: F) -> std::io::Result<()>
    where
        F: FnOnce() -> std::io::Result<()> + Send + 'static,
    {
        let _turn = self.gate.lock().await;
        if self.synced.get() >= ticket {
            return Ok(());
        }
        let covered = self.written.get();
        tokio::task::spawn_blocking(fsync)
            .await
            .map_err(std::io::Error::other)??;
        self.synced.set(covered);
        Ok(())
    }

    /// Marks everything written so far durable (after a synchronous fsync).
    pub fn synced_all(&self) {
        self.synced.set(self.written.get());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_fsync_covers_the_writes_before_it() {
        let g = GroupSync::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let count = |c: &Arc<AtomicUsize>| {
            let c = Arc::clone(c);
            move || {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        };
        let (a, b, c) = (g.wrote(), g.wrote(), g.wrote());
        let (ra, rb, rc) = tokio::join!(
            g.sync(a, count(&calls)),
            g.sync(b, count(&calls)),
            g.sync(c, count(&calls))
        );
        ra.unwrap();
        rb.unwrap();
        rc.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "three writes, one fsync");
        // A later write is not covered by the earlier sync.
        let d = g.wrote();
        g.sync(d, count(&calls)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_fsync_covers_nothing() {
        let g = GroupSync::default();
        let t = g.wrote();
        let err = g
            .sync(t, || Err(std::io::Error::other("disk gone")))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "disk gone");
        g.sync(t, || Ok(())).await.unwrap();
    }
}
