//! The `targets:` of a runbook: a list of stores, each one kind with its settings and a
//! name, or (for runbooks with one target per kind) a map from kind to settings.
//!
//! ```yaml
//! targets:
//!   - name: eu
//!     vault: { mount: secret, path: payments/jwt, address: https://vault-eu:8200 }
//!   - name: us
//!     vault: { mount: secret, path: payments/jwt, address: https://vault-us:8200 }
//!   - aws-ssm: { prefix: /payments/jwt, region: eu-west-1 }     # named `aws-ssm`
//! ```
//!
//! A target without a `name` is named after its kind: the first of a kind `vault`, the
//! second `vault-2`, and so on. Names are unique in a runbook; every check runs while the
//! parser still knows the position, so an error names the file, line and column. The
//! kinds, their settings and their constructors come from the provider registry
//! (`rotor-registry`).

use std::fmt;

use rotor_registry::TargetConfig;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// One target of a runbook.
#[derive(Clone, Debug)]
pub struct TargetSpec {
    pub name: String,
    pub config: TargetConfig,
}

impl TargetSpec {
    pub fn kind(&self) -> &'static str {
        self.config.kind()
    }
}

/// Letters, digits, `-`, `_` and `.`, at most 64, not starting with `-` or `.`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid target name `{name}`: use letters, digits, `-`, `_` and `.`, at most 64"
        ))
    }
}

fn unknown_kind<E: de::Error>(kind: &str, extra: &'static [&'static str]) -> E {
    let mut known: Vec<&str> = extra.to_vec();
    known.extend(TargetConfig::KINDS);
    E::custom(format!(
        "unknown target kind `{kind}`; expected one of {}",
        known.join(", ")
    ))
}

/// Names taken so far and how many targets of each kind were seen.
#[derive(Default)]
struct Names {
    taken: Vec<String>,
    per_kind: Vec<(&'static str, usize)>,
}

impl Names {
    /// The name of the next target of `kind`: `given`, or the default for its place.
    fn assign(&mut self, kind: &'static str, given: Option<String>) -> Result<String, String> {
        let n = match self.per_kind.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.per_kind.push((kind, 1));
                1
            }
        };
        let name = match given {
            Some(g) => g,
            None if n == 1 => kind.to_owned(),
            None => format!("{kind}-{n}"),
        };
        if self.taken.contains(&name) {
            return Err(format!(
                "two targets are named `{name}`; give each a `name:` of its own"
            ));
        }
        self.taken.push(name.clone());
        Ok(name)
    }
}

/// `deserialize_with` for `targets:`.
pub fn targets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TargetSpec>, D::Error> {
    d.deserialize_any(TargetsVisitor)
}

struct TargetsVisitor;

impl<'de> Visitor<'de> for TargetsVisitor {
    type Value = Vec<TargetSpec>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a list of targets (each `name:` and one of {}), or a map of kind to settings",
            TargetConfig::KINDS.join(", ")
        )
    }

    /// The map form: one target per kind, named after it.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<TargetSpec> = Vec::new();
        while let Some(kind) = map.next_key::<String>()? {
            if out.iter().any(|t| t.kind() == kind) {
                return Err(de::Error::custom(format!(
                    "target `{kind}` is given twice; list targets (`- name: ...`) to have several of one kind"
                )));
            }
            let config = TargetConfig::next_settings(&kind, &mut map)?
                .ok_or_else(|| unknown_kind::<A::Error>(&kind, &[]))?;
            out.push(TargetSpec {
                name: config.kind().to_owned(),
                config,
            });
        }
        if out.is_empty() {
            return Err(de::Error::custom("at least one target is needed"));
        }
        // A target's settings are large (the biggest store's); a runbook is kept for the
        // whole run, 10,000 of them in a large one.
        out.shrink_to_fit();
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut names = Names::default();
        let mut out = Vec::new();
        while let Some(t) = seq.next_element_seed(ItemSeed(&mut names))? {
            out.push(t);
        }
        if out.is_empty() {
            return Err(de::Error::custom("at least one target is needed"));
        }
        out.shrink_to_fit();
        Ok(out)
    }
}

/// One item of the list form, named as it is read.
struct ItemSeed<'a>(&'a mut Names);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = TargetSpec;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TargetSpec, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = TargetSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a target: an optional `name` and one of {}",
            TargetConfig::KINDS.join(", ")
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TargetSpec, A::Error> {
        let mut name: Option<String> = None;
        let mut config: Option<TargetConfig> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "name" {
                if name.is_some() {
                    return Err(de::Error::duplicate_field("name"));
                }
                let n: String = map.next_value()?;
                check_name(&n).map_err(de::Error::custom)?;
                name = Some(n);
                continue;
            }
            if let Some(c) = &config {
                return Err(de::Error::custom(format!(
                    "a target has one kind, this one has `{}` and `{key}`; make them two targets",
                    c.kind()
                )));
            }
            config = Some(
                TargetConfig::next_settings(&key, &mut map)?
                    .ok_or_else(|| unknown_kind::<A::Error>(&key, &["name"]))?,
            );
        }
        let config = config.ok_or_else(|| {
            de::Error::custom(format!(
                "the target has no kind; give one of {}",
                TargetConfig::KINDS.join(", ")
            ))
        })?;
        let name = self
            .0
            .assign(config.kind(), name)
            .map_err(de::Error::custom)?;
        Ok(TargetSpec { name, config })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_follow_the_kind_and_collisions_are_refused() {
        let mut n = Names::default();
        assert_eq!(n.assign("vault", None).unwrap(), "vault");
        assert_eq!(n.assign("vault", Some("eu".into())).unwrap(), "eu");
        assert_eq!(n.assign("vault", None).unwrap(), "vault-3");
        assert_eq!(n.assign("file", None).unwrap(), "file");
        assert!(n.assign("file", Some("eu".into())).is_err());
        assert!(n.assign("aws-ssm", Some("vault-3".into())).is_err());
        assert!(check_name("eu-west.1").is_ok());
        assert!(check_name("-x").is_err() && check_name("a b").is_err());
    }
}
