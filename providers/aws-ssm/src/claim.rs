//! The claim of a write: `<prefix>/claim/<n>`, created with `Overwrite=false` (an atomic
//! create) from the state whose `meta` is at version `n`, holding the run's id and the
//! fingerprints of the set it writes; and who is writing, as reads report it.

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;
use rotor_provider::{Error, Fingerprints, KeySet, Result, Target as _};
use serde::{Deserialize, Serialize};

use crate::SsmTarget;
use crate::errors::{self, classify};
use crate::layout::Snapshot;

/// What `<prefix>/claim/<n>` holds: the run that claimed the write from `meta` version n.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    run: String,
    at: String,
    /// The fingerprints of the key set the write puts in place (never a key): a claim
    /// left from an older state whose set is the one `meta` now describes is a write
    /// that landed and was not released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprints: Option<Fingerprints>,
}

impl SsmTarget {
    fn claim_name(&self, base: i64) -> String {
        format!("{}/claim/{base}", self.config.prefix)
    }

    /// Every claim under the prefix, by the `meta` version it was taken from (one
    /// `GetParametersByPath`; at most 10, more is not rotor's doing).
    async fn claims(&self) -> Result<Vec<(i64, Claim)>> {
        let path = format!("{}/claim", self.config.prefix);
        let got = self
            .pacer
            .call(&self.location(), "GetParametersByPath", || async {
                self.client()
                    .await
                    .get_parameters_by_path()
                    .path(&path)
                    .max_results(10)
                    .send()
                    .await
            })
            .await
            .map_err(|e| classify(e, "GetParametersByPath", &path, &self.location()))?;
        let mut out = Vec::new();
        for p in got.parameters.unwrap_or_default() {
            let name = p.name.unwrap_or_default();
            let base = name.rsplit('/').next().and_then(|b| b.parse::<i64>().ok());
            let claim = p
                .value
                .as_deref()
                .and_then(|v| serde_json::from_str::<Claim>(v).ok());
            match (base, claim) {
                (Some(b), Some(c)) => out.push((b, c)),
                _ => {
                    return Err(Error::Invalid {
                        location: self.location(),
                        detail: format!("{name} is not a claim rotor wrote; delete it by hand"),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Deletes the claim from `base` and every other claim `writer` holds under the
    /// prefix; other writers' claims are left alone.
    pub(crate) async fn release(&self, base: i64, writer: &str) -> Result<()> {
        self.delete(&self.claim_name(base)).await?;
        for (b, c) in self.claims().await? {
            if c.run == writer {
                self.delete(&self.claim_name(b)).await?;
            }
        }
        Ok(())
    }

    /// The run that claimed the write from `meta` version `base`, if one did.
    async fn claimant(&self, base: i64) -> Result<Option<Claim>> {
        let name = self.claim_name(base);
        let got = self
            .pacer
            .call(&self.location(), "GetParameter", || async {
                self.client().await.get_parameter().name(&name).send().await
            })
            .await;
        match got {
            Ok(out) => {
                let text = out.parameter.and_then(|p| p.value).unwrap_or_default();
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|_| Error::Invalid {
                        location: self.location(),
                        detail: format!("{name} is not a claim rotor wrote; delete it by hand"),
                    })
            }
            Err(e) if errors::is_not_found(&e) => Ok(None),
            Err(e) => Err(classify(e, "GetParameter", &name, &self.location())),
        }
    }

    /// Claims the write from `meta` version `base` for `writer` (an atomic create), or
    /// accepts the claim `writer` already holds; another writer's claim is a conflict.
    pub(crate) async fn claim(
        &self,
        base: i64,
        writer: &str,
        fingerprints: Fingerprints,
    ) -> Result<()> {
        let name = self.claim_name(base);
        let claim = Claim {
            fingerprints: Some(fingerprints),
            run: writer.to_owned(),
            at: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .unwrap_or_else(|_| jiff::Timestamp::now())
                .to_string(),
        };
        let text = serde_json::to_string(&claim).expect("a claim serializes");
        let got = self
            .pacer
            .call(&self.location(), "PutParameter", || async {
                self.client()
                    .await
                    .put_parameter()
                    .name(&name)
                    .value(&text)
                    .r#type(ParameterType::String)
                    .overwrite(false)
                    .send()
                    .await
            })
            .await;
        match got {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ParameterAlreadyExists") => {
                match self.claimant(base).await? {
                    Some(c) if c.run == writer => Ok(()),
                    Some(c) => Err(Error::conflict(
                        self.location(),
                        format!(
                            "another rotor's run {} claimed this write at {} ({name}); nothing was written. \
                             If that run is gone for good, delete {name} by hand",
                            c.run, c.at
                        ),
                    )),
                    // Released between the two calls: the other writer finished, so the
                    // state this write starts from is gone.
                    None => Err(Error::conflict(
                        self.location(),
                        "another writer wrote these parameters meanwhile; nothing was written",
                    )),
                }
            }
            Err(e) => Err(classify(e, "PutParameter", &name, &self.location())),
        }
    }

    /// The run writing here, as reads report it: the claim of the write from this state;
    /// else a claim left from an older state for exactly the key set `meta` now
    /// describes (`set`): that write landed (its unanswered call had moved `meta` on) but
    /// was never released, and its run's `resume` releases it. Any other older claim is a
    /// loser's, about to be dropped.
    pub(crate) async fn writing(
        &self,
        snap: &Snapshot,
        set: Option<&KeySet>,
    ) -> Result<Option<String>> {
        let claims = self.claims().await?;
        let base = snap.version_of(3).unwrap_or(0);
        let landed = set.map(KeySet::fingerprints);
        Ok(claims
            .iter()
            .find(|(b, _)| *b == base)
            .or_else(|| {
                claims.iter().find(|(b, c)| {
                    *b < base && landed.is_some() && c.fingerprints.as_ref() == landed.as_ref()
                })
            })
            .map(|(_, c)| c.run.clone()))
    }
}
