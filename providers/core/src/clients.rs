//! Clients shared by the targets of one run: built once, handed to every store's
//! constructor, dropped with the run. No process-wide statics: two targets on two Vault
//! servers, two AWS regions or two Kubernetes contexts each get their own client, and a
//! test builds targets with a fresh `Clients` of its own.
//!
//! Each provider keys its clients by what makes them differ (server address and token,
//! region and endpoint, kube context) and by type, so providers never see each other's.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

type Entry = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
pub struct Clients {
    entries: Mutex<HashMap<(TypeId, String), Entry>>,
    settings: HashMap<&'static str, String>,
}

impl Clients {
    pub fn new() -> Clients {
        Clients::default()
    }

    /// A run-wide setting a provider reads (`kube-context` for `--context`).
    pub fn with_setting(mut self, key: &'static str, value: impl Into<String>) -> Clients {
        self.settings.insert(key, value.into());
        self
    }

    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }

    /// The value of type `T` under `key`, made by `make` the first time. Values that
    /// are built asynchronously are shared as a `tokio::sync::OnceCell<T>`.
    pub fn shared<T: Any + Send + Sync>(&self, key: &str, make: impl FnOnce() -> T) -> Arc<T> {
        self.try_shared(key, || Ok::<T, std::convert::Infallible>(make()))
            .unwrap_or_else(|never| match never {})
    }

    /// Like [`shared`](Self::shared), with a constructor that may fail (nothing is kept
    /// then, and the next call tries again).
    pub fn try_shared<T: Any + Send + Sync, E>(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let mut entries = self.entries.lock().expect("client registry poisoned");
        let slot = (TypeId::of::<T>(), key.to_owned());
        if let Some(found) = entries.get(&slot) {
            return Ok(Arc::clone(found)
                .downcast::<T>()
                .expect("entries are keyed by their type"));
        }
        let made = Arc::new(make()?);
        entries.insert(slot, Arc::clone(&made) as Entry);
        Ok(made)
    }
}

impl fmt::Debug for Clients {
    // Clients hold credentials: only how many there are is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("Clients")
            .field("shared", &n)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_type_and_key() {
        let c = Clients::new();
        let a = c.shared("eu", || String::from("eu client"));
        let b = c.shared("eu", || String::from("another"));
        assert!(Arc::ptr_eq(&a, &b));
        let us = c.shared("us", || String::from("us client"));
        assert_eq!(*us, "us client");
        // The same key under another type is another value.
        let n = c.shared("eu", || 7u32);
        assert_eq!(*n, 7);
        let failed: Result<Arc<u64>, &str> = c.try_shared("x", || Err("no"));
        assert!(failed.is_err());
        assert_eq!(*c.try_shared::<u64, &str>("x", || Ok(3)).unwrap(), 3);
    }
}
