//! Publishers: where the public JWKS document of an asymmetric secret goes (a file for
//! any web server, an S3 object, a Kubernetes ConfigMap key, a program).
//!
//! A publisher reads the document with an opaque [`Version`] and writes it only if the
//! place still holds that version, where the place has a conditional write. The engine
//! derives the document from the key set after every write step, so publishing is
//! idempotent and a resumed run publishes again what a killed one did not.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::atomic::AtomicFile;
use crate::{Result, Version};

/// One place the document is published.
#[async_trait::async_trait]
pub trait Publisher: Send + Sync + fmt::Debug {
    /// Where, as messages and the audit log name it (`file:/srv/www/jwks.json`).
    fn location(&self) -> String;

    /// The cache lifetime the place announces to verifiers (`Cache-Control: max-age`),
    /// if it announces one: a staged key is not signed with sooner.
    fn max_age(&self) -> Option<Duration> {
        None
    }

    /// The published document and its version; `None` when nothing is published yet.
    /// A place that cannot be read back (a program) answers `None`.
    async fn read(&self) -> Result<Option<Published>>;

    /// Whether the place can be read back (a program cannot).
    fn readable(&self) -> bool {
        true
    }

    /// Publishes `document` if the place still holds `expected` (`None`: nothing yet);
    /// else [`crate::Error::Conflict`] and nothing is written.
    async fn write(&self, document: &[u8], expected: Option<&Version>) -> Result<()>;
}

/// A document as a place holds it.
#[derive(Clone, Debug)]
pub struct Published {
    pub document: Vec<u8>,
    pub version: Version,
    /// When it was last written there, when the place says.
    pub since: Option<std::time::SystemTime>,
}

/// `publish: [{ file: { path } }]`: the document as a file of mode 0644, written
/// atomically, for a web server to serve.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePublish {
    pub path: PathBuf,
}

#[derive(Debug)]
pub struct FilePublisher {
    path: PathBuf,
    file: AtomicFile,
}

impl FilePublisher {
    pub fn new(config: &FilePublish) -> Self {
        FilePublisher {
            path: config.path.clone(),
            file: AtomicFile::new(config.path.clone(), 0o644, 0o755),
        }
    }

    fn read_now(&self) -> Result<Option<Vec<u8>>> {
        match crate::fsread::read_regular(&self.path, MAX_DOCUMENT) {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.file.io_error("read", e)),
        }
    }
}

/// A JWKS document larger than this is not rotor's (three RSA-4096 keys take 3 KiB).
pub const MAX_DOCUMENT: u64 = 1 << 20;

/// A document's version where the place has none of its own: SHA-256 of its bytes.
pub fn content_version(bytes: &[u8]) -> Version {
    use sha2::Digest as _;
    Version(hex::encode(sha2::Sha256::digest(bytes)))
}

#[async_trait::async_trait]
impl Publisher for FilePublisher {
    fn location(&self) -> String {
        format!("file:{}", self.path.display())
    }

    async fn read(&self) -> Result<Option<Published>> {
        let Some(document) = self.read_now()? else {
            return Ok(None);
        };
        let since = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        Ok(Some(Published {
            version: content_version(&document),
            document,
            since,
        }))
    }

    async fn write(&self, document: &[u8], expected: Option<&Version>) -> Result<()> {
        let _lock = self.file.lock().await?;
        self.file.remove_stale_temporaries();
        let now = self.read_now()?.map(|b| content_version(&b));
        if now.as_ref() != expected {
            return Err(crate::Error::conflict(
                self.location(),
                "the published document changed since rotor read it",
            ));
        }
        self.file
            .write_atomically(document)
            .map_err(|e| self.file.io_error("write", e))
    }
}
