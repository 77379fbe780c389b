//! What every test server needs: a free loopback port, and a readiness wait that polls
//! the server's own answer (never a fixed sleep).

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A free loopback port; with `also = Some(d)`, one whose `port + d` is free too (an
/// OpenBao dev server binds its cluster port at +1, a Redis cluster node its bus at
/// +10000).
pub fn free_port(also: Option<u16>) -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        match also {
            None => return port,
            Some(d) => {
                if let Some(p) = port.checked_add(d)
                    && TcpListener::bind(("127.0.0.1", p)).is_ok()
                {
                    return port;
                }
            }
        }
    }
}

/// Polls `ready` every 20 ms until it holds (true) or `limit` has passed (false).
pub fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
