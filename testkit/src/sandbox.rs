//! The test harness: every test runs the real `rotor` binary in a fresh temporary
//! directory with its own state directory.
//!
//! Every sandbox is also a leak test: each key that appears in a key file of the sandbox
//! is collected after every run, and when the sandbox is dropped every stdout, stderr,
//! audit line and journal file it produced is searched for each key in its stored,
//! raw, hex, base64 and base64url forms.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use base64::Engine as _;

/// The `rotor` binary under test: `ROTOR_BIN`, else the one Cargo built next to the
/// running test (`target/<profile>/rotor`, the test being `target/<profile>/deps/..`).
pub fn bin() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let path = match std::env::var_os("ROTOR_BIN") {
            Some(p) => PathBuf::from(p),
            None => {
                let test = std::env::current_exe().expect("the test's own path");
                let profile = test
                    .parent()
                    .and_then(Path::parent)
                    .expect("a test under target/<profile>/deps");
                profile.join("rotor")
            }
        };
        assert!(
            path.is_file(),
            "no rotor binary at {} (set ROTOR_BIN, or run the tests through cargo)",
            path.display()
        );
        path
    })
}

#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    outputs: Mutex<Vec<(String, Vec<u8>)>>,
    keys: Mutex<BTreeSet<String>>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            outputs: Mutex::default(),
            keys: Mutex::default(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    /// A runbook for `secret` with a file target `keys/<secret>.env`, plus `extra` lines.
    pub fn runbook(&self, secret: &str, extra: &str) -> PathBuf {
        self.write(
            &format!("runbooks/{secret}.yaml"),
            &format!(
                "secret: {secret}\ncreate: true\ntargets:\n  file: {{ path: keys/{secret}.env, format: env }}\n{extra}"
            ),
        )
    }

    /// A runbook for `secret` with one target given as YAML (`aws-ssm: { ... }`), plus
    /// `extra` lines.
    pub fn runbook_with_target(&self, secret: &str, target: &str, extra: &str) -> PathBuf {
        self.write(
            &format!("runbooks/{secret}.yaml"),
            &format!("secret: {secret}\ncreate: true\ntargets:\n  {target}\n{extra}"),
        )
    }

    pub fn rotor(&self) -> Cmd<'_> {
        let mut cmd = Command::new(bin());
        cmd.current_dir(self.dir.path())
            .env("ROTOR_STATE_DIR", self.state())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("ROTOR_FAILPOINT")
            .stdin(Stdio::null());
        // The developer's own store settings never reach a test.
        for var in [
            "VAULT_ADDR",
            "VAULT_TOKEN",
            "VAULT_NAMESPACE",
            "VAULT_CACERT",
            "VAULT_SKIP_VERIFY",
            "BAO_ADDR",
            "BAO_TOKEN",
            "BAO_NAMESPACE",
            "BAO_CACERT",
            "BAO_SKIP_VERIFY",
            "DATABASE_URL",
            "PGPASSWORD",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGSSLMODE",
            "MYSQL_PWD",
            "DBUS_SESSION_BUS_ADDRESS",
            "GOOGLE_OAUTH_ACCESS_TOKEN",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "CLOUDSDK_CONFIG",
            "GCE_METADATA_HOST",
        ] {
            cmd.env_remove(var);
        }
        Cmd {
            cmd,
            sandbox: self,
            stdin: None,
        }
    }

    fn record(&self, what: String, bytes: Vec<u8>) {
        self.outputs.lock().unwrap().push((what, bytes));
    }

    /// Collects every key now held in the sandbox's key files.
    pub fn harvest(&self) {
        let mut keys = self.keys.lock().unwrap();
        for entry in walk(&self.path("keys")) {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            for line in text.lines() {
                if let Some((name, value)) = line.split_once('=')
                    && ["_CURRENT", "_PREVIOUS", "_PENDING"]
                        .iter()
                        .any(|s| name.ends_with(s))
                {
                    keys.insert(value.trim().to_owned());
                }
            }
            if let Ok(serde_json::Value::Object(o)) =
                serde_json::from_str::<serde_json::Value>(&text)
            {
                for f in ["current", "previous", "pending"] {
                    if let Some(v) = o.get(f).and_then(|v| v.as_str()) {
                        keys.insert(v.to_owned());
                    }
                }
            }
        }
    }

    pub fn keys_seen(&self) -> BTreeSet<String> {
        self.keys.lock().unwrap().clone()
    }

    /// Adds a key the test supplied itself (e.g. with --key-file).
    pub fn add_key(&self, key: &str) {
        self.keys.lock().unwrap().insert(key.to_owned());
    }

    /// Searches every output and state file for every key seen; panics on a hit.
    pub fn check_no_leaks(&self) {
        self.harvest();
        let mut haystacks = self.outputs.lock().unwrap().clone();
        for f in walk(&self.state()) {
            haystacks.push((
                f.display().to_string(),
                std::fs::read(&f).unwrap_or_default(),
            ));
        }
        for key in self.keys_seen() {
            for needle in forms(&key) {
                for (what, hay) in &haystacks {
                    assert!(
                        !contains(hay, &needle),
                        "key material (a form of key {}…) found in {what}",
                        &key[..4.min(key.len())]
                    );
                }
            }
        }
    }

    pub fn outputs_checked(&self) -> usize {
        self.outputs.lock().unwrap().len()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.check_no_leaks();
        }
    }
}

/// The stored string, and the raw bytes it decodes to with their other encodings.
pub fn forms(key: &str) -> Vec<Vec<u8>> {
    let mut out = vec![key.as_bytes().to_vec()];
    // A key pair's private JWK: each private member, as written and as raw bytes (a
    // 16-byte window of those, for a print cut short).
    if let Ok(serde_json::Value::Object(jwk)) = serde_json::from_str::<serde_json::Value>(key) {
        let b64u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for m in ["d", "p", "q", "dp", "dq", "qi"] {
            if let Some(v) = jwk.get(m).and_then(|v| v.as_str()) {
                out.push(v.as_bytes().to_vec());
                if let Ok(raw) = b64u.decode(v) {
                    out.push(hex::encode(&raw).into_bytes());
                    out.push(raw[..16.min(raw.len())].to_vec());
                }
            }
        }
        return out;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let raw = b64
        .decode(key)
        .or_else(|_| b64u.decode(key))
        .or_else(|_| hex::decode(key))
        .ok();
    if let Some(raw) = raw {
        out.push(hex::encode(&raw).into_bytes());
        out.push(hex::encode_upper(&raw).into_bytes());
        out.push(b64.encode(&raw).into_bytes());
        out.push(b64u.encode(&raw).into_bytes());
        out.push(raw);
    }
    // A 16-byte window of the stored form catches a truncated or wrapped print too.
    if key.len() > 24 {
        out.push(key.as_bytes()[4..20].to_vec());
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub struct Cmd<'a> {
    pub cmd: Command,
    sandbox: &'a Sandbox,
    stdin: Option<Vec<u8>>,
}

impl<'a> Cmd<'a> {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self.cmd.stdin(Stdio::piped());
        self
    }

    pub fn run(mut self) -> Output {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn rotor");
        if let Some(bytes) = self.stdin.take() {
            child.stdin.take().unwrap().write_all(&bytes).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let what = format!("{:?}", self.cmd.get_args().collect::<Vec<_>>());
        self.sandbox
            .record(format!("stdout of {what}"), out.stdout.clone());
        self.sandbox
            .record(format!("stderr of {what}"), out.stderr.clone());
        self.sandbox.harvest();
        Output {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts rotor without waiting for it (two rotors racing, a kill at a random moment).
    pub fn start(mut self) -> Running<'a> {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = self.cmd.spawn().expect("spawn rotor");
        let what = format!("{:?}", self.cmd.get_args().collect::<Vec<_>>());
        Running {
            child,
            what,
            sandbox: self.sandbox,
        }
    }

    /// Starts rotor with piped stdin/stderr for a `pause@…` fail point; returns once it
    /// says it paused.
    pub fn spawn_paused(mut self) -> Paused {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn rotor");
        let stderr = child.stderr.take().unwrap();
        let mut reader = std::io::BufReader::new(stderr);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            assert!(n > 0, "rotor ended before pausing; stderr:\n{seen}");
            seen.push_str(&line);
            if line.starts_with("rotor: paused at ") {
                break;
            }
        }
        Paused {
            child,
            stderr: reader,
            seen,
        }
    }
}

/// A rotor started with [`Cmd::start`].
pub struct Running<'a> {
    child: Child,
    what: String,
    sandbox: &'a Sandbox,
}

impl Running<'_> {
    /// Sends `signal` (SIGTERM, SIGINT, ...) to rotor, if it is still running.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
    }

    /// Sends SIGKILL (if rotor is still running) and collects what it printed.
    pub fn kill(mut self) -> Output {
        let _ = self.child.kill();
        self.wait()
    }

    pub fn wait(self) -> Output {
        let out = self.child.wait_with_output().unwrap();
        self.sandbox
            .record(format!("stdout of {}", self.what), out.stdout.clone());
        self.sandbox
            .record(format!("stderr of {}", self.what), out.stderr.clone());
        self.sandbox.harvest();
        Output {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A small seeded generator for random moments; the seed is printed so a failing run can
/// be repeated (`ROTOR_TEST_SEED`).
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Self {
        Self::new()
    }
}

impl Rng {
    pub fn new() -> Rng {
        let seed = std::env::var("ROTOR_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("random moments from ROTOR_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

pub struct Paused {
    pub child: Child,
    stderr: std::io::BufReader<std::process::ChildStderr>,
    seen: String,
}

impl Paused {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets rotor go on and waits for it.
    pub fn resume(mut self, sandbox: &Sandbox) -> Output {
        self.child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stderr, &mut rest).unwrap();
        let out = self.child.wait_with_output().unwrap();
        let stderr = format!("{}{rest}", self.seen);
        sandbox.record("stdout of paused rotor".into(), out.stdout.clone());
        sandbox.record("stderr of paused rotor".into(), stderr.clone().into_bytes());
        sandbox.harvest();
        Output {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        }
    }
}

/// `KEY=value` lines of an env file as a map.
pub fn env_map(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The fingerprint rotor prints for a stored key: `sha256:` + 16 hex digits.
pub fn fp(key: &str) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        &hex::encode(sha2::Sha256::digest(key.as_bytes()))[..16]
    )
}
