//! The `aws-ssm:` settings of a runbook target, and their checks.

use aws_sdk_ssm::types::ParameterTier;
use serde::Deserialize;

/// The `aws-ssm:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsmConfig {
    pub prefix: String,
    pub kms_key_id: Option<String>,
    pub region: Option<String>,
    pub tier: Option<String>,
}

impl SsmConfig {
    /// Checks the prefix and tier (called by the runbook parser, so a bad value is
    /// reported at its line and column).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let p = &self.prefix;
        let ok = p.starts_with('/')
            && !p.ends_with('/')
            && p.len() > 1
            && !p.contains("//")
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b));
        if !ok {
            return Err(format!(
                "aws-ssm prefix `{p}` must look like `/payments/jwt`: a leading `/`, no trailing `/`, letters, digits, `_.-/`"
            ));
        }
        self.tier()?;
        if let Some(r) = &self.region {
            rotor_aws_common::check_region(r).map_err(|e| format!("aws-ssm: {e}"))?;
        }
        Ok(())
    }

    pub(crate) fn tier(&self) -> std::result::Result<ParameterTier, String> {
        match self.tier.as_deref() {
            None | Some("Standard") => Ok(ParameterTier::Standard),
            Some("Advanced") => Ok(ParameterTier::Advanced),
            Some("Intelligent-Tiering") => Ok(ParameterTier::IntelligentTiering),
            Some(other) => Err(format!(
                "aws-ssm tier `{other}` is not one of Standard, Advanced, Intelligent-Tiering"
            )),
        }
    }
}
