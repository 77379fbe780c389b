//! A real Secret Service for the OS keyring tests: a private D-Bus session bus and
//! gnome-keyring-daemon on it, unlocked with a password, in a fresh directory per test
//! (its keyrings live in `XDG_DATA_HOME`); the bus starts no service on demand. `secret-tool` (libsecret) is the independent
//! client. Both processes die with the test.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Cmd;

pub struct SecretService {
    bus: Child,
    daemon: Child,
    dir: tempfile::TempDir,
    pub address: String,
}

/// The login keyring's password.
pub const PASSWORD: &str = "keyring-pw-4f8a2c9d";

impl SecretService {
    pub fn start() -> SecretService {
        let dir = tempfile::tempdir().unwrap();
        for d in ["data", "run", "config"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::set_permissions(
            dir.path().join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        // A session bus without service directories: nothing is started on demand, so
        // the only Secret Service on it is the daemon started below.
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<busconfig><type>session</type><listen>unix:path={}</listen>\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>",
                dir.path().join("bus").display()
            ),
        )
        .unwrap();
        let mut bus = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "dbus-daemon", "--nofork"])
            .arg(format!("--config-file={}", config.display()))
            .arg("--print-address=1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is installed (scripts/test installs dbus)");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon said {line:?}");
        let mut daemon = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "gnome-keyring-daemon"])
            .args(["--foreground", "--components=secrets", "--unlock"])
            .envs(env(&address, dir.path()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("daemon.log")).unwrap())
            .spawn()
            .expect("gnome-keyring-daemon is installed (scripts/test installs gnome-keyring)");
        // The login keyring's password; closing stdin ends it.
        let mut stdin = daemon.stdin.take().unwrap();
        stdin.write_all(PASSWORD.as_bytes()).unwrap();
        drop(stdin);
        let s = SecretService {
            bus,
            daemon,
            dir,
            address,
        };
        // Ready when an item can be stored and read back.
        let ready = super::net::wait_until(Duration::from_secs(30), || {
            s.try_store("rotor-probe", "probe", "ready")
                && s.lookup("rotor-probe", "probe").as_deref() == Some("ready")
        });
        assert!(
            ready,
            "gnome-keyring-daemon did not start: {}",
            std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap_or_default()
        );
        s.clear("rotor-probe", "probe");
        s
    }

    fn secret_tool(&self) -> Command {
        let mut c = Command::new("secret-tool");
        c.envs(env(&self.address, self.dir.path()));
        c
    }

    fn try_store(&self, service: &str, account: &str, value: &str) -> bool {
        let Ok(mut child) = self
            .secret_tool()
            .args([
                "store",
                "--label=test",
                "service",
                service,
                "username",
                account,
            ])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        let _ = child.stdin.take().unwrap().write_all(value.as_bytes());
        child.wait().is_ok_and(|s| s.success())
    }

    /// `secret-tool store service S username A` (what an application writes).
    pub fn store(&self, service: &str, account: &str, value: &str) {
        assert!(
            self.try_store(service, account, value),
            "secret-tool store failed"
        );
    }

    /// `secret-tool lookup service S username A`; `None` when there is no such item.
    pub fn lookup(&self, service: &str, account: &str) -> Option<String> {
        let out = self
            .secret_tool()
            .args(["lookup", "service", service, "username", account])
            .stderr(Stdio::null())
            .output()
            .expect("secret-tool is installed (scripts/test installs libsecret-tools)");
        let v = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && !v.is_empty()).then_some(v)
    }

    pub fn clear(&self, service: &str, account: &str) {
        let _ = self
            .secret_tool()
            .args(["clear", "service", service, "username", account])
            .status();
    }

    /// Locks the login collection, as a screen lock or `seahorse` would.
    pub fn lock(&self) {
        let out = Command::new("dbus-send")
            .envs(env(&self.address, self.dir.path()))
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ])
            .output()
            .expect("dbus-send is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The bytes of the login keyring as gnome-keyring keeps it on disk.
    pub fn login_file(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("data/keyrings/login.keyring")).unwrap()
    }

    /// `cmd` pointed at this bus.
    pub fn env<'a>(&self, cmd: Cmd<'a>) -> Cmd<'a> {
        env(&self.address, self.dir.path())
            .into_iter()
            .fold(cmd, |c, (k, v)| c.env(k, v))
    }
}

fn env(address: &str, dir: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("DBUS_SESSION_BUS_ADDRESS", address.to_owned()),
        ("XDG_DATA_HOME", dir.join("data").display().to_string()),
        ("XDG_RUNTIME_DIR", dir.join("run").display().to_string()),
        ("XDG_CONFIG_HOME", dir.join("config").display().to_string()),
    ]
}

impl Drop for SecretService {
    fn drop(&mut self) {
        for c in [&mut self.daemon, &mut self.bus] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
