//! Where target kinds become providers. A new backend is one variant in
//! `runbook::TargetConfig` and one arm here.

use rotor_provider::Provider;
use rotor_provider::file::FileProvider;

#[cfg(any(feature = "vault", feature = "aws-ssm"))]
use crate::error::Error;
use crate::error::Result;
use crate::runbook::{Runbook, TargetConfig};

pub fn build(config: &TargetConfig, rb: &Runbook) -> Result<Box<dyn Provider>> {
    Ok(match config {
        TargetConfig::File(c) => Box::new(FileProvider::new(c, &rb.secret)),
        #[cfg(feature = "vault")]
        TargetConfig::Vault(c) => Box::new(
            rotor_provider_vault::VaultProvider::new(c)
                .map_err(|e| Error::provider(&rb.secret, "nothing was changed".into(), e))?,
        ),
        #[cfg(feature = "kubernetes")]
        TargetConfig::Kubernetes(c) => Box::new(rotor_provider_kubernetes::SecretProvider::new(c)),
        #[cfg(feature = "aws-ssm")]
        TargetConfig::AwsSsm(c) => Box::new(
            rotor_provider_aws_ssm::SsmProvider::new(c)
                .map_err(|e| Error::provider(&rb.secret, "nothing was changed".into(), e))?,
        ),
    })
}
