//! The file provider: the embedded default, for local work and for services that read
//! their keys from a mounted file.
//!
//! ```yaml
//! targets:
//!   file:
//!     path: .rotor/payments.env     # relative to the working directory
//!     format: env                   # or json
//!     prefix: PAYMENTS_JWT          # env only; default: the secret name upper-cased
//!     names: { current: JWT_SECRET_CURRENT, previous: JWT_SECRET_PREVIOUS }
//! ```
//!
//! `json` is an object with the fields `current`, `previous`, `pending`, `rotated_at`,
//! `rotation_id`; `env` is `PREFIX_CURRENT=...` lines. Other fields and lines in the file
//! are kept as they are. Writes are atomic (temporary file in the same directory, fsync,
//! rename, fsync of the directory) and leave the file with mode 0600. The version is the
//! SHA-256 of the bytes read, so a file changed behind rotor's back is a conflict.
//!
//! Two rotors that do not share a state directory (two users, two hosts on a shared
//! filesystem) are kept apart by an exclusive `flock` on `.<file name>.rotor-lock` beside
//! the key file, held from the version check to the rename: the second writer finds the
//! first one's version and stops with a conflict. Temporary files a killed write left
//! behind (`.<file name>.rotor-tmp`) are removed under that lock.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use rotor_format::file::{FileConfig, Format, Layout, env_prefix};

use crate::atomic::AtomicFile;
use crate::keyset::KeySet;
use crate::{Error, Result, Target, Version, Versioned, WriteCondition};

/// The `file` provider.
#[derive(Debug)]
pub struct FileProvider;

impl crate::Provider for FileProvider {
    const KIND: &'static str = "file";
    type Config = FileConfig;

    fn check(config: &FileConfig, secret: Option<&str>) -> std::result::Result<(), String> {
        // Names derived from any secret name are valid; those for the runbook's own
        // secret are checked once it is known.
        config.validate(secret.unwrap_or("secret"))
    }

    /// A file with single-key names has no `pending` slot (see `FileConfig::single`).
    fn capabilities(config: &FileConfig) -> crate::Capabilities {
        crate::Capabilities::holding(true, config.single.is_none())
    }

    fn build(
        config: &FileConfig,
        secret: &str,
        _clients: &crate::Clients,
    ) -> Result<Box<dyn Target>> {
        Ok(Box::new(FileTarget::new(config, secret)))
    }
}

#[derive(Debug)]
pub struct FileTarget {
    path: PathBuf,
    layout: Layout,
    file: AtomicFile,
}

impl FileTarget {
    /// `secret` gives the default env prefix (`payments-jwt` → `PAYMENTS_JWT`).
    pub fn new(config: &FileConfig, secret: &str) -> Self {
        FileTarget {
            path: config.path.clone(),
            layout: Layout::new(config, secret),
            file: AtomicFile::new(config.path.clone(), 0o600, 0o700),
        }
    }

    /// Reads and parses the file now, without the async machinery.
    pub fn load(&self) -> Result<Option<KeySet>> {
        match self.read_bytes()? {
            None => Ok(None),
            Some(bytes) => self.parse(&bytes),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, what: &str, e: io::Error) -> Error {
        self.file.io_error(what, e)
    }

    /// The raw bytes, or `None` when the file does not exist.
    fn read_bytes(&self) -> Result<Option<Zeroizing<Vec<u8>>>> {
        rotor_format::file::read(&self.path).map_err(|e| self.io_error("read", e))
    }

    fn parse(&self, bytes: &[u8]) -> Result<Option<KeySet>> {
        self.layout.parse(bytes).map_err(|detail| Error::Invalid {
            location: self.location(),
            detail,
        })
    }

    fn render(&self, existing: Option<&[u8]>, set: &KeySet) -> Result<Zeroizing<String>> {
        self.layout
            .render(existing, set)
            .map_err(|detail| Error::Other {
                location: self.location(),
                detail,
                cause: None,
            })
    }
}

fn version_of(bytes: &[u8]) -> Version {
    Version(hex::encode(Sha256::digest(bytes)))
}

#[async_trait::async_trait]
impl Target for FileTarget {
    fn capabilities(&self) -> crate::Capabilities {
        crate::Capabilities::holding(true, self.layout.single.is_none())
    }

    fn kind(&self) -> &'static str {
        "file"
    }

    fn location(&self) -> String {
        format!("file:{}", self.path.display())
    }

    /// The absolute path with `.` and `..` resolved as written (`./keys/a.env`,
    /// `keys/../keys/a.env` and `keys/a.env` are one file), its directory through its
    /// symbolic links when it exists.
    fn place(&self) -> String {
        let abs = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        let mut clean = PathBuf::new();
        for c in abs.components() {
            match c {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    clean.pop();
                }
                other => clean.push(other),
            }
        }
        if let (Some(dir), Some(name)) = (clean.parent(), clean.file_name())
            && let Ok(real) = fs::canonicalize(dir)
        {
            clean = real.join(name);
        }
        format!("file:{}", clean.display())
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let Some(bytes) = self.read_bytes()? else {
            return Ok(None);
        };
        Ok(self
            .parse(&bytes)?
            .map(|set| Versioned::new(set, version_of(&bytes))))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        _writer: &str,
    ) -> Result<Version> {
        // Every rotor writing this file holds its lock from this check to the rename; a
        // process that is not rotor and edits the file in that instant is the one race
        // left, and the next read sees its change as a conflict.
        let _lock = self.file.lock().await?;
        self.file.remove_stale_temporaries();
        let existing = self.read_bytes()?;
        match (&condition, &existing) {
            (WriteCondition::Create, Some(bytes)) if self.parse(bytes)?.is_some() => {
                return Err(Error::conflict(
                    self.location(),
                    "a key set already exists where none was expected",
                ));
            }
            (WriteCondition::Update(_), None) => {
                return Err(Error::conflict(self.location(), "the file was removed"));
            }
            (WriteCondition::Update(v), Some(bytes)) if version_of(bytes) != *v => {
                return Err(Error::conflict(
                    self.location(),
                    "the file changed since it was read",
                ));
            }
            _ => {}
        }
        let content = self.render(existing.as_deref().map(|b| b.as_slice()), set)?;
        self.file
            .write_atomically(content.as_bytes())
            .map_err(|e| self.io_error("write", e))?;
        Ok(version_of(content.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldOverrides, Key};
    use std::os::unix::fs::PermissionsExt;

    fn provider(dir: &Path, format: Format, names: FieldOverrides) -> FileTarget {
        let ext = if format == Format::Env { "env" } else { "json" };
        FileTarget::new(
            &FileConfig {
                path: dir.join(format!("keys.{ext}")),
                format,
                prefix: None,
                names,
                single: None,
            },
            "payments-jwt",
        )
    }

    fn set() -> KeySet {
        let mut s = KeySet::new(Key::new("c".repeat(44)));
        s.previous = Some(Key::new("p".repeat(44)));
        s.rotated_at = Some("2026-01-02T03:04:05Z".parse().unwrap());
        s
    }

    #[tokio::test]
    async fn env_keeps_other_lines_and_uses_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path(), Format::Env, FieldOverrides::default());
        // A pending key without a current one is not an empty store.
        fs::write(p.path(), "PAYMENTS_JWT_PENDING=old-key-0123456789abcdef\n").unwrap();
        let e = p.read().await.unwrap_err().to_string();
        assert!(e.contains("not empty") && !e.contains("old-key"), "{e}");
        fs::write(p.path(), "# app\nDATABASE_URL=postgres://x\n").unwrap();
        let v = p.read().await.unwrap();
        assert!(v.is_none());
        p.write(&set(), WriteCondition::Create, "test")
            .await
            .unwrap();
        let text = fs::read_to_string(p.path()).unwrap();
        assert!(
            text.starts_with("# app\nDATABASE_URL=postgres://x\n"),
            "{text}"
        );
        assert!(text.contains(&format!("PAYMENTS_JWT_CURRENT={}\n", "c".repeat(44))));
        assert!(text.contains("PAYMENTS_JWT_ROTATED_AT=2026-01-02T03:04:05Z\n"));
        assert!(!text.contains("PENDING"), "{text}");
        assert_eq!(p.read().await.unwrap().unwrap().set, set());
    }

    #[tokio::test]
    async fn env_name_overrides_and_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let names = FieldOverrides {
            current: Some("JWT_SECRET_CURRENT".into()),
            previous: Some("JWT_SECRET_PREVIOUS".into()),
            ..Default::default()
        };
        let p = provider(dir.path(), Format::Env, names);
        let c = "k".repeat(40);
        fs::write(p.path(), format!("export JWT_SECRET_CURRENT=\"{c}\"\n")).unwrap();
        let got = p.read().await.unwrap().unwrap();
        assert_eq!(got.set.current, Key::new(c));
        p.write(&set(), WriteCondition::Update(got.version), "test")
            .await
            .unwrap();
        let text = fs::read_to_string(p.path()).unwrap();
        assert!(text.contains("JWT_SECRET_PREVIOUS="), "{text}");
        assert_eq!(text.matches("JWT_SECRET_CURRENT=").count(), 1, "{text}");
    }

    #[tokio::test]
    async fn json_keeps_other_fields_and_mode_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path(), Format::Json, FieldOverrides::default());
        fs::write(p.path(), r#"{"issuer":"payments"}"#).unwrap();
        fs::set_permissions(p.path(), fs::Permissions::from_mode(0o644)).unwrap();
        p.write(&set(), WriteCondition::Create, "test")
            .await
            .unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(p.path()).unwrap()).unwrap();
        assert_eq!(doc["issuer"], "payments");
        assert_eq!(doc["current"], "c".repeat(44));
        let mode = fs::metadata(p.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[tokio::test]
    async fn malformed_json_is_invalid_without_quoting_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path(), Format::Json, FieldOverrides::default());
        fs::write(p.path(), "{\"current\": \"s3cr3t-value-that-must-not-show").unwrap();
        let err = p.read().await.unwrap_err().to_string();
        assert!(err.contains("not JSON"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
