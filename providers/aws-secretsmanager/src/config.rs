//! The `aws-secretsmanager:` target's settings, checked when the runbook is read.

use serde::Deserialize;

/// The `aws-secretsmanager:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsManagerConfig {
    pub secret_id: String,
    pub region: Option<String>,
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub format: Format,
    pub field: Option<String>,
    /// Rotate a secret that has AWS's own rotation (a Lambda) turned on. Off by default:
    /// two rotators would fight over the labels.
    #[serde(default)]
    pub allow_aws_rotation: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The secret value is the key.
    #[default]
    String,
    /// The secret value is a JSON object; `field` holds the key.
    Json,
}

impl SecretsManagerConfig {
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let id = &self.secret_id;
        let ok = !id.is_empty()
            && id.len() <= 2048
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-:".contains(&b));
        if !ok {
            return Err(format!(
                "aws-secretsmanager secret_id `{id}` must be a name or ARN: letters, digits and /_+=.@-"
            ));
        }
        if let Some(r) = &self.region {
            rotor_aws_common::check_region(r).map_err(|e| format!("aws-secretsmanager: {e}"))?;
        }
        match (self.format, &self.field) {
            (Format::String, Some(_)) => {
                Err("aws-secretsmanager: `field` goes with `format: json`".into())
            }
            (_, Some(f)) if f.is_empty() => Err("aws-secretsmanager: `field` is empty".into()),
            _ => Ok(()),
        }
    }

    pub(crate) fn field(&self) -> &str {
        self.field.as_deref().unwrap_or("key")
    }
}
