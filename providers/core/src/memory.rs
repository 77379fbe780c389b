//! An in-memory provider: for the engine's unit tests and as the reference the
//! conformance suite is first run against.

use std::sync::Mutex;

use crate::{Error, KeySet, Result, Target, Version, Versioned, WriteCondition};

#[derive(Debug, Default)]
pub struct MemoryTarget {
    name: String,
    state: Mutex<Option<(KeySet, u64)>>,
}

impl MemoryTarget {
    pub fn new(name: impl Into<String>) -> Self {
        MemoryTarget {
            name: name.into(),
            state: Mutex::default(),
        }
    }
}

#[async_trait::async_trait]
impl Target for MemoryTarget {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> String {
        format!("memory:{}", self.name)
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let state = self.state.lock().expect("memory provider poisoned");
        Ok(state
            .as_ref()
            .map(|(set, v)| Versioned::new(set.clone(), Version(v.to_string()))))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        _writer: &str,
    ) -> Result<Version> {
        let mut state = self.state.lock().expect("memory provider poisoned");
        let next = match (&condition, state.as_ref()) {
            (WriteCondition::Create, None) => 1,
            (WriteCondition::Update(v), Some((_, cur))) if v.0 == cur.to_string() => cur + 1,
            _ => {
                return Err(Error::conflict(
                    self.location(),
                    format!("condition {condition:?} does not hold"),
                ));
            }
        };
        *state = Some((set.clone(), next));
        Ok(Version(next.to_string()))
    }
}
