//! The `gcp-secretmanager:` target's settings, checked when the runbook is read.

use serde::Deserialize;

/// The endpoint rotor talks to unless `endpoint:` says otherwise.
pub const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";

/// The `gcp-secretmanager:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcpSecretManagerConfig {
    /// The project id (or number) holding the secret.
    pub project: String,
    /// The secret's id within the project.
    pub secret: String,
    /// How the key set lies in the secret.
    #[serde(default)]
    pub layout: Layout,
    /// The alias names of the three slots (layout `aliases`).
    #[serde(default)]
    pub aliases: AliasNames,
    /// What happens to a version whose key a write drops (retire, `--force`).
    #[serde(default)]
    pub retired: Retired,
    /// User-managed replication in these locations for a secret rotor creates
    /// (default: automatic replication).
    #[serde(default)]
    pub locations: Vec<String>,
    /// The API's base URL (a private endpoint, or a test server).
    pub endpoint: Option<String>,
}

/// How the key set lies in the secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// One version per slot, each named by an alias (`current`, `previous`, `pending`).
    #[default]
    Aliases,
    /// One version holds the whole key set as a JSON document; services read `latest`.
    Json,
}

/// The alias of each slot.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AliasNames {
    pub current: String,
    pub previous: String,
    pub pending: String,
}

impl Default for AliasNames {
    fn default() -> Self {
        AliasNames {
            current: "current".into(),
            previous: "previous".into(),
            pending: "pending".into(),
        }
    }
}

impl AliasNames {
    /// In slot order: current, previous, pending.
    pub fn in_order(&self) -> [&str; 3] {
        [&self.current, &self.previous, &self.pending]
    }
}

/// What happens to a version whose key a write drops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retired {
    /// Disabled: it can no longer be read, and can be enabled again.
    #[default]
    Disable,
    /// Destroyed: its payload is gone for good.
    Destroy,
    /// Left enabled (an operator's own clean-up decides).
    Keep,
}

/// Whether `s` is a project id (6 to 30 lowercase letters, digits and hyphens, starting
/// with a letter) or a project number.
fn is_project(s: &str) -> bool {
    let b = s.as_bytes();
    let number = !b.is_empty() && b.len() <= 20 && b.iter().all(u8::is_ascii_digit);
    let id = (6..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && !s.ends_with('-')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    number || id
}

/// A secret id: 1 to 255 letters, digits, `-` and `_`.
fn is_secret_id(s: &str) -> bool {
    (1..=255).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// An alias name rotor accepts: 1 to 63 lowercase letters, digits, `-` and `_`,
/// starting with a letter; never `latest`.
pub(crate) fn is_alias(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
        && s != "latest"
}

/// Whether an `http://` endpoint names this machine: a token is sent in the clear only
/// over loopback.
fn is_loopback(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl GcpSecretManagerConfig {
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if !is_project(&self.project) {
            return Err(format!(
                "gcp-secretmanager project `{}` is neither a project id (6 to 30 lowercase letters, digits and hyphens, starting with a letter) nor a project number",
                self.project
            ));
        }
        if !is_secret_id(&self.secret) {
            return Err(format!(
                "gcp-secretmanager secret `{}` must be 1 to 255 letters, digits, `-` and `_`",
                self.secret
            ));
        }
        let names = self.aliases.in_order();
        for n in names {
            if !is_alias(n) {
                return Err(format!(
                    "gcp-secretmanager alias `{n}` must be 1 to 63 lowercase letters, digits, `-` and `_`, starting with a letter, and not `latest`"
                ));
            }
        }
        if names[0] == names[1] || names[1] == names[2] || names[0] == names[2] {
            return Err("gcp-secretmanager: the three aliases must differ".into());
        }
        if self.layout == Layout::Json && self.aliases != AliasNames::default() {
            return Err("gcp-secretmanager: `aliases` goes with `layout: aliases`".into());
        }
        for l in &self.locations {
            let ok = !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
            if !ok {
                return Err(format!(
                    "gcp-secretmanager location `{l}` is not a location name (such as europe-west1)"
                ));
            }
        }
        if let Some(e) = &self.endpoint {
            let https = e.starts_with("https://") && e.len() > "https://".len();
            let local = e.starts_with("http://") && is_loopback(e);
            if !(https || local) {
                return Err(format!(
                    "gcp-secretmanager endpoint `{e}` must be an https:// URL (plain http:// only to this machine: a token would cross the network in the clear)"
                ));
            }
        }
        Ok(())
    }

    /// The API's base URL, without a trailing slash.
    pub(crate) fn endpoint(&self) -> &str {
        self.endpoint
            .as_deref()
            .unwrap_or(DEFAULT_ENDPOINT)
            .trim_end_matches('/')
    }

    /// `projects/P/secrets/S`.
    pub(crate) fn resource(&self) -> String {
        format!("projects/{}/secrets/{}", self.project, self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: serde_json::Value) -> std::result::Result<(), String> {
        let mut v = serde_json::json!({ "project": "rotor-test", "secret": "jwt" });
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        let c: GcpSecretManagerConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
        c.validate()
    }

    #[test]
    fn settings_are_checked() {
        assert!(config(serde_json::json!({})).is_ok());
        assert!(config(serde_json::json!({ "project": "123456789012" })).is_ok());
        assert!(config(serde_json::json!({ "project": "Bad_Project" })).is_err());
        assert!(config(serde_json::json!({ "secret": "a/b" })).is_err());
        assert!(config(serde_json::json!({ "aliases": { "current": "latest" } })).is_err());
        assert!(config(serde_json::json!({ "aliases": { "previous": "current" } })).is_err());
        assert!(
            config(serde_json::json!({ "layout": "json", "aliases": { "current": "x" } })).is_err()
        );
        assert!(config(serde_json::json!({ "endpoint": "http://127.0.0.1:8080" })).is_ok());
        assert!(config(serde_json::json!({ "endpoint": "http://[::1]:8080/" })).is_ok());
        assert!(config(serde_json::json!({ "endpoint": "http://sm.example.com" })).is_err());
        assert!(config(serde_json::json!({ "endpoint": "http://127.0.0.1.example.com" })).is_err());
        assert!(config(serde_json::json!({ "endpoint": "http://user@127.0.0.1:80" })).is_ok());
        assert!(config(serde_json::json!({ "endpoint": "https://sm.example.com" })).is_ok());
        assert!(config(serde_json::json!({ "locations": ["Europe West"] })).is_err());
    }
}
