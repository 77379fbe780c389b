//! The keyring's blocking calls, on a thread of their own.
//!
//! The platform stores block (the Secret Service client runs its own event loop and
//! panics inside a tokio runtime), and a locked keyring can hang on an unlock prompt
//! forever. So every call goes to one worker thread per run, in order, and the caller
//! waits at most [`CALL_TIMEOUT`] for its answer. A call still hanging then is left to
//! its thread (which ends with the process), and the calls behind it time out too.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use keyring_core::api::CredentialStore;

/// How long one keyring call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One entry: the keyring's service name and the account (user) name.
#[derive(Clone, Debug)]
pub struct EntryName {
    pub service: String,
    pub account: String,
}

/// What failed, in words safe to print (a keyring error may carry the bytes it could
/// not decode, so it is never kept or formatted with `Debug`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No keyring service could be reached (no Secret Service on the bus, ...).
    NoService(String),
    /// The keyring or collection is locked, or access was refused.
    Locked(String),
    /// The value is larger than the platform allows.
    TooLarge(String),
    /// More than one entry matches the service and account.
    Ambiguous(usize),
    /// The stored value is not UTF-8 text.
    NotText,
    Other(String),
    /// No answer within [`CALL_TIMEOUT`].
    TimedOut,
}

type Job = Box<dyn FnOnce(&Result<Arc<CredentialStore>, Failure>) + Send>;

/// The worker thread of one run.
pub struct Keyring {
    jobs: mpsc::Sender<Job>,
    /// Held across a write's read, compare and writes: within one run, writes are
    /// check-and-set (across runs on this host, rotor's lock is).
    pub writing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").finish_non_exhaustive()
    }
}

impl Keyring {
    /// Starts the worker; the platform store is opened by its first call.
    pub fn start() -> Keyring {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("rotor-keyring".into())
            .spawn(move || {
                let store = open_store();
                for job in rx {
                    job(&store);
                }
            })
            .expect("a thread can be started");
        Keyring {
            jobs: tx,
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs `f` on the worker against the platform store, waiting at most
    /// [`CALL_TIMEOUT`].
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Arc<CredentialStore>) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |store| {
            let r = match store {
                Ok(s) => f(s),
                Err(e) => Err(e.clone()),
            };
            let _ = tx.send(r);
        });
        if self.jobs.send(job).is_err() {
            return Err(Failure::Other("the keyring worker stopped".into()));
        }
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Failure::Other("the keyring worker stopped".into())),
            Err(_) => Err(Failure::TimedOut),
        }
    }
}

/// The platform's store; never a mock: no store is an error.
fn open_store() -> Result<Arc<CredentialStore>, Failure> {
    #[cfg(target_os = "linux")]
    let store = zbus_secret_service_keyring_store::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| {
            Failure::NoService(format!(
                "no Secret Service on the session bus ({}); start one (gnome-keyring, KeePassXC, KWallet) in this user's D-Bus session",
                said(&e)
            ))
        });
    #[cfg(target_os = "macos")]
    let store = apple_native_keyring_store::keychain::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| {
            Failure::NoService(format!(
                "the login keychain cannot be opened ({})",
                said(&e)
            ))
        });
    #[cfg(target_os = "windows")]
    let store = windows_native_keyring_store::Store::new()
        .map(|s| s as Arc<CredentialStore>)
        .map_err(|e| {
            Failure::NoService(format!(
                "the Credential Manager cannot be opened ({})",
                said(&e)
            ))
        });
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    let store = Err(Failure::NoService(
        "this platform has no OS keyring rotor can use".into(),
    ));
    store
}

/// A keyring error in words: its `Display`, which never includes the data it holds.
pub fn said(e: &keyring_core::Error) -> String {
    let mut out = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(s) = next {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        next = s.source();
    }
    out
}

/// A keyring error as a [`Failure`].
pub fn failure(e: keyring_core::Error) -> Failure {
    use keyring_core::Error as E;
    match &e {
        E::NoStorageAccess(_) => Failure::Locked(said(&e)),
        E::TooLong(..) => Failure::TooLarge(said(&e)),
        E::Ambiguous(v) => Failure::Ambiguous(v.len()),
        E::BadEncoding(_) | E::BadDataFormat(..) => Failure::NotText,
        E::NoDefaultStore => Failure::NoService(said(&e)),
        _ => Failure::Other(said(&e)),
    }
}

/// Reads the entries (`None`: no such entry).
pub fn read(
    store: &Arc<CredentialStore>,
    names: &[EntryName],
) -> Result<Vec<Option<String>>, Failure> {
    names
        .iter()
        .map(|n| {
            let entry = store.build(&n.service, &n.account, None).map_err(failure)?;
            match entry.get_password() {
                Ok(v) => Ok(Some(v)),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(failure(e)),
            }
        })
        .collect()
}

/// Sets an entry to `value`, or deletes it (`None`; a missing entry is fine).
pub fn put(
    store: &Arc<CredentialStore>,
    name: &EntryName,
    value: Option<&str>,
) -> Result<(), Failure> {
    let entry = store
        .build(&name.service, &name.account, None)
        .map_err(failure)?;
    match value {
        Some(v) => entry.set_password(v).map_err(failure),
        None => match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(failure(e)),
        },
    }
}
