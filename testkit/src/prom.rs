//! Prometheus' tools for the metrics tests: `promtool` (Debian's `prometheus` package) and
//! a real Pushgateway (`prometheus-pushgateway`) on a free loopback port, waited for until
//! it answers `/-/ready`, read back over its HTTP API.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::bao::http_status;

fn binary(name: &str) -> PathBuf {
    ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is needed for the metrics tests: run scripts/test (it installs Debian's prometheus and prometheus-pushgateway)")
        })
}

/// `promtool ARGS`, with `stdin` fed to it.
pub fn promtool(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(binary("promtool"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A Pushgateway, killed when dropped.
pub struct Pushgateway {
    child: Child,
    pub port: u16,
}

impl Pushgateway {
    pub fn start() -> Pushgateway {
        let port = crate::net::free_port(None);
        let mut child = Command::new(binary("prometheus-pushgateway"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway starts");
        let ready = crate::net::wait_until(Duration::from_secs(30), || {
            child.try_wait().ok().flatten().is_none() && http_status(port, "/-/ready") == Some(200)
        });
        assert!(ready, "the Pushgateway on port {port} did not get ready");
        Pushgateway { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every group pushed, as the API lists them (`/api/v1/metrics`).
    pub fn groups(&self) -> Vec<serde_json::Value> {
        let (code, body) = crate::http::call(self.port, "GET", "/api/v1/metrics", "");
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"].as_array().cloned().unwrap_or_default()
    }

    /// The group whose labels include `labels`.
    pub fn group(&self, labels: &[(&str, &str)]) -> Option<serde_json::Value> {
        self.groups()
            .into_iter()
            .find(|g| labels.iter().all(|(k, v)| g["labels"][k] == *v))
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
