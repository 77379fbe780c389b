//! The claim of a write: `CreateSecret` (an atomic create) of a secret named
//! `<name>.rotor-claim-<n>`, where `n` is rotor's write counter of the state the write
//! starts from, with the run's id as its description; who holds it, and its release.

use rotor_provider::{Error, Result, Target as _};

use crate::SecretsManagerTarget;
use crate::errors::{classify, is_not_found};
use crate::layout::Labels;

impl SecretsManagerTarget {
    /// The run whose claim of a write from `labels`' state stands, if any.
    pub(crate) async fn claimant(&self, labels: &Labels) -> Result<Option<String>> {
        let name = labels.claim_name();
        let got = self
            .pacer
            .call(&self.location(), "DescribeSecret", || async {
                self.client()
                    .await
                    .describe_secret()
                    .secret_id(&name)
                    .send()
                    .await
            })
            .await;
        match got {
            Ok(o) if o.deleted_date.is_none() => Ok(Some(o.description.unwrap_or_default())),
            Ok(_) => Ok(None),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify(e, "DescribeSecret", &name, &self.location())),
        }
    }

    /// Claims the write from `labels`' state for `writer` (an atomic create); a claim
    /// that exists is a conflict.
    pub(crate) async fn claim(&self, labels: &Labels, writer: &str) -> Result<()> {
        let name = labels.claim_name();
        self.pacer
            .call(&self.location(), "CreateSecret", || async {
                self.client()
                    .await
                    .create_secret()
                    .name(&name)
                    .description(writer)
                    .send()
                    .await
            })
            .await
            .map(|_| ())
            .map_err(|e| {
                match e
                    .as_service_error()
                    .map(|s| s.is_resource_exists_exception())
                {
                    Some(true) => Error::conflict(
                        self.location(),
                        "another rotor claimed a write of this secret from the same state first",
                    ),
                    _ => classify(e, "CreateSecret", &name, &self.location()),
                }
            })
    }

    /// Deletes a write's claim. A claim left behind names a counter the secret has
    /// passed, so it is never consulted again; it is only clutter.
    pub(crate) async fn release(&self, name: &str) -> Result<()> {
        let done = self
            .pacer
            .call(&self.location(), "DeleteSecret", || async {
                self.client()
                    .await
                    .delete_secret()
                    .secret_id(name)
                    .force_delete_without_recovery(true)
                    .send()
                    .await
            })
            .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(classify(e, "DeleteSecret", name, &self.location())),
        }
    }
}
