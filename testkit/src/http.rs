//! A tiny HTTP/1.1 test server (a thread answering with a closure, recording every
//! request) and a tiny client, enough for reload hooks, Prometheus answers and the
//! demo service.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct TestServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

impl TestServer {
    pub fn start(handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, handler) = (Arc::clone(&seen), Arc::clone(&handler));
                std::thread::spawn(move || serve(stream, &seen, &*handler));
            }
        });
        TestServer { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Request>>, handler: &Handler) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, target) = (method.to_owned(), target.to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap_or(0);
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let req = Request {
            method,
            target,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (code, text) = handler(&req);
        seen.lock().unwrap().push(req);
        // 0: the answer is lost, the connection reset before any byte of it.
        if code == 0 {
            let _ = out.shutdown(std::net::Shutdown::Both);
            return;
        }
        // A redirect's text is its `Location`; a 429's or 503's is its `Retry-After`.
        let answer = if (300..400).contains(&code) {
            format!("HTTP/1.1 {code} X\r\nLocation: {text}\r\nContent-Length: 0\r\n\r\n")
        } else if code == 429 || code == 503 {
            format!("HTTP/1.1 {code} X\r\nRetry-After: {text}\r\nContent-Length: 0\r\n\r\n")
        } else {
            format!(
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                text.len()
            )
        };
        if out.write_all(answer.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// One request on a fresh connection: (status, body).
pub fn call(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (code, body)
}

/// Sends `req` on to `port` as it came and returns the answer: a pass-through proxy.
pub fn forward(port: u16, req: &Request) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect upstream");
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (n, v) in &req.headers {
        if !n.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(req.body.as_bytes()).unwrap();
    let mut text = Vec::new();
    s.read_to_end(&mut text).unwrap();
    let text = String::from_utf8_lossy(&text);
    let code = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (code, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// A pass-through proxy to `upstream` that loses answers on demand: the request reaches
/// the server and is applied, and the client's connection is reset before any byte of
/// the answer (a proxy timeout, a reset connection). What a retrying client must treat
/// as "I do not know whether my write landed".
pub struct LossyProxy {
    pub server: TestServer,
    /// Lose the answers of the matching requests numbered in `lose` (1-based, counted
    /// from when it was armed).
    rule: Arc<Mutex<Option<LossRule>>>,
}

struct LossRule {
    matches: Box<dyn Fn(&Request) -> bool + Send>,
    lose: Vec<usize>,
    seen: usize,
    lost: usize,
}

impl LossyProxy {
    pub fn start(upstream: u16) -> LossyProxy {
        let rule: Arc<Mutex<Option<LossRule>>> = Arc::default();
        let r = Arc::clone(&rule);
        let server = TestServer::start(move |req| {
            let answer = forward(upstream, req);
            let mut rule = r.lock().unwrap();
            if let Some(rule) = rule.as_mut()
                && (rule.matches)(req)
            {
                rule.seen += 1;
                if rule.lose.contains(&rule.seen) {
                    rule.lost += 1;
                    return (0, String::new());
                }
            }
            answer
        });
        LossyProxy { server, rule }
    }

    /// Loses the answers of the matching requests numbered in `lose`.
    pub fn lose(&self, matches: impl Fn(&Request) -> bool + Send + 'static, lose: Vec<usize>) {
        *self.rule.lock().unwrap() = Some(LossRule {
            matches: Box::new(matches),
            lose,
            seen: 0,
            lost: 0,
        });
    }

    /// (matching requests seen, answers lost) since armed; disarms.
    pub fn heal(&self) -> (usize, usize) {
        self.rule
            .lock()
            .unwrap()
            .take()
            .map_or((0, 0), |r| (r.seen, r.lost))
    }

    pub fn url(&self) -> String {
        self.server.url("")
    }
}

/// A TCP proxy in front of a Redis server that loses answers on demand: it reads each
/// command (a RESP array) from the client, forwards it, and for the chosen ones closes
/// the client's connection at once, while the server, which has the whole command,
/// runs it. `matches` sees the command's parts (`EVALSHA`, the sha, the number of keys,
/// ...).
pub struct RespLossyProxy {
    pub port: u16,
    rule: Arc<Mutex<Option<RespRule>>>,
}

/// Whether a command (its parts) is one whose answer the rule counts.
type CommandMatch = Box<dyn Fn(&[Vec<u8>]) -> bool + Send>;

struct RespRule {
    matches: CommandMatch,
    lose: Vec<usize>,
    seen: usize,
    lost: usize,
}

impl RespLossyProxy {
    pub fn start(upstream: u16) -> RespLossyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let rule: Arc<Mutex<Option<RespRule>>> = Arc::default();
        let r = Arc::clone(&rule);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let r = Arc::clone(&r);
                std::thread::spawn(move || resp_pipe(client, upstream, &r));
            }
        });
        RespLossyProxy { port, rule }
    }

    pub fn lose(&self, matches: impl Fn(&[Vec<u8>]) -> bool + Send + 'static, lose: Vec<usize>) {
        *self.rule.lock().unwrap() = Some(RespRule {
            matches: Box::new(matches),
            lose,
            seen: 0,
            lost: 0,
        });
    }

    /// (matching commands seen, answers lost) since armed; disarms.
    pub fn heal(&self) -> (usize, usize) {
        self.rule
            .lock()
            .unwrap()
            .take()
            .map_or((0, 0), |r| (r.seen, r.lost))
    }
}

/// One RESP array command from `r`: its raw bytes and its parts; `None` at the end.
fn read_command(r: &mut BufReader<TcpStream>) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut raw = Vec::new();
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line).ok()? == 0 {
        return None;
    }
    raw.extend_from_slice(&line);
    let n: usize = std::str::from_utf8(line.strip_prefix(b"*")?)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let mut parts = Vec::new();
    for _ in 0..n {
        line.clear();
        r.read_until(b'\n', &mut line).ok()?;
        raw.extend_from_slice(&line);
        let len: usize = std::str::from_utf8(line.strip_prefix(b"$")?)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let mut arg = vec![0; len + 2];
        r.read_exact(&mut arg).ok()?;
        raw.extend_from_slice(&arg);
        arg.truncate(len);
        parts.push(arg);
    }
    Some((raw, parts))
}

fn resp_pipe(client: TcpStream, upstream: u16, rule: &Mutex<Option<RespRule>>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    // Answers flow back on their own thread, until the client's side is closed.
    let mut back_from = server.try_clone().unwrap();
    let mut back_to = client.try_clone().unwrap();
    let answers = std::thread::spawn(move || {
        let _ = std::io::copy(&mut back_from, &mut back_to);
    });
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut to_server = server.try_clone().unwrap();
    while let Some((raw, parts)) = read_command(&mut reader) {
        let lose = {
            let mut rule = rule.lock().unwrap();
            match rule.as_mut() {
                Some(r) if (r.matches)(&parts) => {
                    r.seen += 1;
                    let lose = r.lose.contains(&r.seen);
                    r.lost += usize::from(lose);
                    lose
                }
                _ => false,
            }
        };
        if to_server.write_all(&raw).is_err() {
            break;
        }
        if lose {
            // The server has the whole command and runs it (it reads the end of the
            // connection only after what came before); the client hears nothing.
            let _ = client.shutdown(std::net::Shutdown::Both);
            break;
        }
    }
    let _ = server.shutdown(std::net::Shutdown::Both);
    let _ = answers.join();
}
