//! A secret's targets as the engine sees them: each store with what rotor last read or
//! wrote there, and the keys the run can write (by fingerprint).

use std::collections::HashMap;

use rotor_provider::{Clients, Fingerprint, Fingerprints, Key, Target, Versioned};

use crate::error::{Error, Result};
use crate::runbook::Runbook;

/// One store of a secret, with what rotor last read or wrote there.
#[derive(Debug)]
pub struct TargetState {
    /// The target's name in the runbook (its kind unless named).
    pub name: String,
    pub store: Box<dyn Target>,
    pub current: Option<Versioned>,
    /// This run wrote here, or a write of this run failed in a way that may have
    /// changed the store: the run's journal must stay.
    pub touched: bool,
}

impl TargetState {
    pub fn fingerprints(&self) -> Option<Fingerprints> {
        self.current.as_ref().map(|v| v.set.fingerprints())
    }

    /// The target as output, the journal and the audit log name it: its location, with
    /// its name in front when that is not simply its kind.
    pub fn label(&self) -> String {
        label(&self.name, self.store.kind(), &self.store.location())
    }

    pub fn describe(&self) -> String {
        match self.fingerprints() {
            Some(f) => format!("{} holds {f}", self.label()),
            None => format!("{} holds no key set", self.label()),
        }
    }
}

/// `eu (vault:secret/payments/jwt at https://vault-eu:8200)`, or the location alone for
/// a target named after its kind.
pub fn label(name: &str, kind: &str, location: &str) -> String {
    if name == kind {
        location.to_owned()
    } else {
        format!("{name} ({location})")
    }
}

/// Which targets of a runbook a command works on: `--provider KIND` and `--target NAME`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TargetFilter<'a> {
    pub kind: Option<&'a str>,
    pub names: &'a [String],
}

impl TargetFilter<'_> {
    pub fn selects(&self, t: &crate::runbook::TargetSpec) -> bool {
        self.kind.is_none_or(|k| k == t.kind())
            && (self.names.is_empty() || self.names.contains(&t.name))
    }
}

/// Builds the runbook's targets that `pick` selects and reads each.
pub async fn open_targets(
    rb: &Runbook,
    pick: &TargetFilter<'_>,
    clients: &Clients,
) -> Result<Vec<TargetState>> {
    let mut out = Vec::new();
    for target in rb.targets.iter().filter(|t| pick.selects(t)) {
        // The store's own error names its location; the target's name is said here.
        let state = if target.name == target.kind() {
            "nothing was changed".to_owned()
        } else {
            format!("(target `{}`) nothing was changed", target.name)
        };
        let provider = target
            .config
            .build(&rb.secret, clients)
            .map_err(|e| Error::store(&rb.secret, state.clone(), e))?;
        // Two targets naming one place would each check-and-set against the other's
        // write: refused before anything is read or written.
        let place = provider.place();
        if let Some(other) = out.iter().find(|t: &&TargetState| t.store.place() == place) {
            let text = std::fs::read_to_string(&rb.path).unwrap_or_default();
            let (line, column) = crate::runbook::key_position(&text, "targets");
            return Err(Error::Runbook {
                path: rb.path.clone(),
                line,
                column,
                message: format!(
                    "targets `{}` and `{}` name the same place ({}); each target must be a place of its own",
                    other.name,
                    target.name,
                    provider.location()
                ),
            });
        }
        tracing::debug!(secret = %rb.secret, location = %provider.location(), "reading key set");
        let current = provider
            .read()
            .await
            .map_err(|e| Error::store(&rb.secret, state, e))?;
        out.push(TargetState {
            name: target.name.clone(),
            store: provider,
            current,
            touched: false,
        });
    }
    if out.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no target selected in {}",
            rb.secret,
            rb.path.display()
        )));
    }
    Ok(out)
}

/// The fingerprints all targets agree on (`None`: none holds a key set), or an error
/// naming the disagreement.
pub fn agreed(secret: &str, targets: &[TargetState]) -> Result<Option<Fingerprints>> {
    let first = targets[0].fingerprints();
    if targets.iter().all(|t| t.fingerprints() == first) {
        return Ok(first);
    }
    Err(Error::Disagree {
        secret: secret.to_owned(),
        targets: describe(targets),
    })
}

pub fn describe(targets: &[TargetState]) -> String {
    targets
        .iter()
        .map(TargetState::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Keys by fingerprint: the new key and every key found in any target.
#[derive(Debug, Default)]
pub struct KeyPool(HashMap<Fingerprint, Key>);

impl KeyPool {
    pub fn from_targets(targets: &[TargetState]) -> KeyPool {
        let mut pool = KeyPool::default();
        for set in targets
            .iter()
            .filter_map(|t| t.current.as_ref())
            .map(|v| &v.set)
        {
            for key in [
                Some(&set.current),
                set.previous.as_ref(),
                set.pending.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                pool.add(key.clone());
            }
        }
        pool
    }

    pub fn add(&mut self, key: Key) {
        self.0.insert(key.fingerprint(), key);
    }

    pub fn contains(&self, fp: &Fingerprint) -> bool {
        self.0.contains_key(fp)
    }

    /// The key of `fp` (`None` for an empty slot), or the fingerprint no key is held for.
    pub fn get(&self, fp: &Option<Fingerprint>) -> std::result::Result<Option<Key>, Fingerprint> {
        match fp {
            None => Ok(None),
            Some(fp) => self.0.get(fp).cloned().map(Some).ok_or_else(|| fp.clone()),
        }
    }
}
