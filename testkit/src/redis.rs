//! Real redis-server processes for the Redis tests: standalone (optionally with a
//! password or TLS) and a 3-node cluster, each on free loopback ports, ready when
//! `redis-cli ping` answers, killed when dropped. `redis-cli` is the independent reader.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A port whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    super::net::free_port(Some(10000))
}

pub struct Redis {
    children: Vec<Child>,
    /// The single server's command line, to start it again ([`Redis::restart`]).
    args: Vec<std::ffi::OsString>,
    pub ports: Vec<u16>,
    pub dir: tempfile::TempDir,
    pub password: Option<String>,
    /// TLS: the CA certificate clients trust.
    pub ca: Option<PathBuf>,
}

#[derive(Default)]
pub struct Options {
    pub password: Option<String>,
    pub tls: bool,
    /// A read-only replica of the server on this port.
    pub replica_of: Option<u16>,
    /// Keep the data in an append-only file, so it survives [`Redis::restart`].
    pub appendonly: bool,
}

fn server() -> Command {
    Command::new(std::env::var("ROTOR_TEST_REDIS").unwrap_or_else(|_| "redis-server".into()))
}

impl Redis {
    pub fn start() -> Redis {
        Redis::with(Options::default())
    }

    pub fn with(o: Options) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = server();
        let aof = if o.appendonly { "yes" } else { "no" };
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", aof])
            .args(["--appendfsync", "always"])
            .arg("--dir")
            .arg(dir.path());
        let mut ca = None;
        if o.tls {
            let (ca_path, cert, key) = super::tls::files(dir.path());
            cmd.args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(&cert)
                .arg("--tls-key-file")
                .arg(&key)
                .arg("--tls-ca-cert-file")
                .arg(&ca_path)
                .args(["--tls-auth-clients", "no"]);
            ca = Some(ca_path);
        } else {
            cmd.args(["--port", &port.to_string()]);
        }
        if let Some(pw) = &o.password {
            cmd.args(["--requirepass", pw]);
        }
        if let Some(primary) = o.replica_of {
            cmd.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
        }
        let args: Vec<std::ffi::OsString> = cmd.get_args().map(ToOwned::to_owned).collect();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        let r = Redis {
            args,
            children: vec![child],
            ports: vec![port],
            dir,
            password: o.password,
            ca,
        };
        r.wait_ready(port);
        r
    }

    /// Three masters, no replicas, all slots assigned.
    pub fn cluster() -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut children = Vec::new();
        for p in &ports {
            let d = dir.path().join(p.to_string());
            std::fs::create_dir_all(&d).unwrap();
            children.push(
                server()
                    .args(["--bind", "127.0.0.1", "--port", &p.to_string()])
                    .args([
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--cluster-enabled",
                        "yes",
                    ])
                    .args(["--cluster-config-file", "nodes.conf"])
                    .arg("--dir")
                    .arg(&d)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server is installed"),
            );
        }
        let r = Redis {
            args: Vec::new(),
            children,
            ports: ports.clone(),
            dir,
            password: None,
            ca: None,
        };
        for p in &ports {
            r.wait_ready(*p);
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for p in &ports {
            assert!(
                super::net::wait_until(Duration::from_secs(20), || r
                    .cli_on(*p, &["cluster", "info"])
                    .contains("cluster_state:ok")),
                "the cluster did not come up"
            );
        }
        r
    }

    fn wait_ready(&self, port: u16) {
        assert!(
            super::net::wait_until(Duration::from_secs(20), || self
                .cli_on(port, &["ping"])
                .trim()
                == "PONG"),
            "redis-server on {port} did not start"
        );
    }

    /// Kills the single server (SIGKILL, as a crash) and starts it again on the same
    /// port and directory; with `appendonly` its data is back.
    pub fn restart(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let child = server()
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts again");
        self.children = vec![child];
        self.wait_ready(self.ports[0]);
    }

    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    /// The URL rotor is given (no password in it: REDIS_PASSWORD carries it).
    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port())
    }

    fn cli_command(&self, port: u16) -> Command {
        let mut c = Command::new("redis-cli");
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--no-auth-warning",
        ]);
        if let Some(ca) = &self.ca {
            c.arg("--tls").arg("--cacert").arg(ca);
        }
        if let Some(pw) = &self.password {
            c.args(["-a", pw]);
        }
        c
    }

    fn cli_on(&self, port: u16, args: &[&str]) -> String {
        match self
            .cli_command(port)
            .args(args)
            .stderr(Stdio::null())
            .output()
        {
            Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
            Err(_) => String::new(),
        }
    }

    /// `redis-cli ARGS` on the first node (`-c` follows cluster redirects), its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self
            .cli_command(self.port())
            .arg("-c")
            .args(args)
            .output()
            .expect("redis-cli is installed");
        assert!(
            out.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `HGETALL key` as a map.
    pub fn hgetall(&self, key: &str) -> std::collections::BTreeMap<String, String> {
        let out = self.cli(&["--raw", "hgetall", key]);
        let lines: Vec<&str> = out.lines().collect();
        lines
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].to_owned(), c[1].to_owned()))
            .collect()
    }

    /// `GET key`, `None` when there is no such key.
    pub fn get(&self, key: &str) -> Option<String> {
        let out = self.cli(&["--raw", "get", key]);
        let v = out.strip_suffix('\n').unwrap_or(&out);
        (!v.is_empty()).then(|| v.to_owned())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
