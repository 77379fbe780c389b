//! Demo services (`rotor-demo-service`, built with the `demo` feature) for the live
//! rotation tests: started on free ports, killed when dropped.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::Sandbox;
use super::http::call;

/// `rotor-demo-service` of the `rotor-keyring` crate, built beside `rotor` by the
/// workspace build (`--features demo`).
pub fn demo_bin() -> PathBuf {
    let bin = super::bin().with_file_name("rotor-demo-service");
    assert!(
        bin.exists(),
        "{} is not built: ./scripts/test builds it (cargo build -p rotor-keyring --features demo)",
        bin.display()
    );
    bin
}

pub struct Service {
    child: Child,
    pub port: u16,
    pub pidfile: PathBuf,
}

impl Service {
    /// A service reading `keys/<secret>.env`, reloading up to `delay_ms` after SIGHUP
    /// (never, when `stuck`).
    pub fn start(s: &Sandbox, secret: &str, name: &str, delay_ms: u64, stuck: bool) -> Service {
        let keys = format!("keys/{secret}.env");
        Self::spawn(
            s,
            &["--keys", &keys, "--format", "env"],
            secret,
            name,
            delay_ms,
            stuck,
        )
    }

    /// A service with a key pair in `keys/<secret>.json`, verifying against the JWKS at
    /// `jwks` (a file or a URL), read again on an unknown kid at most every `refetch_ms`.
    pub fn start_key_pair(
        s: &Sandbox,
        secret: &str,
        name: &str,
        delay_ms: u64,
        jwks: &str,
        refetch_ms: u64,
    ) -> Service {
        let keys = format!("keys/{secret}.json");
        let refetch = refetch_ms.to_string();
        let args = [
            "--keys",
            &keys,
            "--format",
            "json",
            "--jwks",
            jwks,
            "--jwks-refetch-ms",
            &refetch,
        ];
        Self::spawn(s, &args, secret, name, delay_ms, false)
    }

    fn spawn(
        s: &Sandbox,
        args: &[&str],
        secret: &str,
        name: &str,
        delay_ms: u64,
        stuck: bool,
    ) -> Service {
        let pidfile = s.path(&format!("{name}.pid"));
        let mut cmd = Command::new(demo_bin());
        cmd.current_dir(s.dir.path())
            .args(args)
            .args(["--secret", secret, "--pidfile"])
            .arg(&pidfile)
            .args(["--reload-delay-max-ms", &delay_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if stuck {
            cmd.arg("--ignore-sighup");
        }
        let mut child = cmd.spawn().expect("start the demo service");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the demo service said {line:?}"));
        Service {
            child,
            port,
            pidfile,
        }
    }

    pub fn keys_url(&self) -> String {
        format!("http://127.0.0.1:{}/rotor/keys", self.port)
    }

    /// A token for `msg`, signed with the service's current key.
    pub fn sign(&self, msg: &str) -> String {
        let (code, token) = call(self.port, "POST", "/sign", msg);
        assert_eq!(code, 200, "sign failed: {token}");
        token
    }

    pub fn verifies(&self, token: &str) -> bool {
        call(self.port, "POST", "/verify", token).0 == 200
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
