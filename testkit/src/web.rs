//! nginx serving a directory on a free loopback port (a published JWKS file as any web
//! server would serve it), and the Python of the project's virtualenv, where the JWKS
//! tests' independent readers live (PyJWT, jwcrypto).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bao::{find_binary, http_status};

/// The virtualenv's Python (`ROTOR_TEST_PYTHON`, else `.venv/bin/python` at the
/// workspace root); the JWKS tests fail without it.
pub fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    find_binary("ROTOR_TEST_PYTHON", &venv, "python3-with-pyjwt").unwrap_or_else(|| {
        panic!(
            "the JWKS tests need Python with PyJWT and jwcrypto: run scripts/test (it \
             installs them into .venv), or set ROTOR_TEST_PYTHON"
        )
    })
}

/// A real nginx (Debian's package) serving `root` at `http://127.0.0.1:<port>/`, one
/// process in the foreground, its state in its own temporary directory.
pub struct Nginx {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn serve(root: &Path) -> Nginx {
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .expect("nginx is needed for the JWKS tests: run scripts/test (it installs it)");
        let dir = tempfile::tempdir().unwrap();
        let port = crate::net::free_port(None);
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  types {{ application/json json; }}\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {};\n\
                 add_header Cache-Control \"public, max-age=1\";\n  }}\n}}\n",
            root.display()
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let mut child = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let up = crate::net::wait_until(Duration::from_secs(20), || {
            assert!(
                child.try_wait().unwrap().is_none(),
                "nginx exited at start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            http_status(port, "/").is_some()
        });
        assert!(up, "nginx did not answer");
        Nginx {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
