//! A byte-level proxy that loses answers on demand, for stores whose protocol is not HTTP
//! (PostgreSQL, MariaDB, D-Bus): it forwards everything both ways, and when a message
//! from the client holds a chosen byte pattern (`COMMIT`, a D-Bus method name) for the
//! n-th time, it forwards that message and then closes the client's connection as soon as
//! the server answers, without passing the answer on. The server has done the work; the
//! client never hears of it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A connected stream of either kind.
trait Stream: Read + Write + Send + Sized + 'static {
    fn split(&self) -> Self;
    fn close(&self);
}

impl Stream for TcpStream {
    fn split(&self) -> Self {
        self.try_clone().unwrap()
    }
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Stream for UnixStream {
    fn split(&self) -> Self {
        self.try_clone().unwrap()
    }
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

#[derive(Default)]
struct Rule {
    patterns: Vec<Vec<u8>>,
    /// Which matching messages (1-based) lose their answer.
    lose: Vec<usize>,
    seen: usize,
    lost: usize,
}

/// The proxy. TCP ([`WireProxy::tcp`]) or a Unix socket ([`WireProxy::unix`]).
pub struct WireProxy {
    pub port: u16,
    pub path: Option<PathBuf>,
    rule: Arc<Mutex<Option<Rule>>>,
}

impl WireProxy {
    /// In front of `127.0.0.1:upstream`.
    pub fn tcp(upstream: u16) -> WireProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let rule: Arc<Mutex<Option<Rule>>> = Arc::default();
        let r = Arc::clone(&rule);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let r = Arc::clone(&r);
                std::thread::spawn(move || pipe(client, server, &r));
            }
        });
        WireProxy {
            port,
            path: None,
            rule,
        }
    }

    /// In front of the Unix socket `upstream`, listening at `at`.
    pub fn unix(upstream: &Path, at: &Path) -> WireProxy {
        let listener = UnixListener::bind(at).unwrap();
        let upstream = upstream.to_owned();
        let rule: Arc<Mutex<Option<Rule>>> = Arc::default();
        let r = Arc::clone(&rule);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = UnixStream::connect(&upstream) else {
                    continue;
                };
                let r = Arc::clone(&r);
                std::thread::spawn(move || pipe(client, server, &r));
            }
        });
        WireProxy {
            port: 0,
            path: Some(at.to_owned()),
            rule,
        }
    }

    /// From now on, count client messages holding one of `patterns`; lose the answers
    /// of the ones numbered in `lose` (1-based).
    pub fn lose(&self, patterns: &[&[u8]], lose: Vec<usize>) {
        *self.rule.lock().unwrap() = Some(Rule {
            patterns: patterns.iter().map(|p| p.to_vec()).collect(),
            lose,
            ..Rule::default()
        });
    }

    /// (matching messages seen, answers lost) since armed; disarms.
    pub fn heal(&self) -> (usize, usize) {
        self.rule
            .lock()
            .unwrap()
            .take()
            .map_or((0, 0), |r| (r.seen, r.lost))
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() || hay.len() < needle.len() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn pipe<S: Stream>(client: S, server: S, rule: &Mutex<Option<Rule>>) {
    let losing = Arc::new(AtomicBool::new(false));
    // Answers: passed on, until one is to be lost.
    let (mut from, mut to, l) = (server.split(), client.split(), Arc::clone(&losing));
    let answers = std::thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if l.load(Ordering::SeqCst) {
                // The server answered the chosen message: it has done it.
                to.close();
                from.close();
                break;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let (mut from, mut to) = (client.split(), server.split());
    let mut buf = vec![0; 64 * 1024];
    // The end of the previous read, so a pattern split across two reads is still seen.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut window = std::mem::take(&mut tail);
        let carried = window.len();
        window.extend_from_slice(&buf[..n]);
        {
            let mut rule = rule.lock().unwrap();
            if let Some(r) = rule.as_mut() {
                let k = r.patterns.iter().map(Vec::len).max().unwrap_or(0);
                let found: usize = r
                    .patterns
                    .iter()
                    .map(|p| count(&window, p) - count(&window[..carried], p))
                    .sum();
                for _ in 0..found {
                    r.seen += 1;
                    if r.lose.contains(&r.seen) {
                        r.lost += 1;
                        losing.store(true, Ordering::SeqCst);
                    }
                }
                tail = window[window.len().saturating_sub(k.saturating_sub(1))..].to_vec();
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    to.close();
    client.close();
    let _ = answers.join();
}
