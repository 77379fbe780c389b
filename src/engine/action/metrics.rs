//! `metrics: { url, query, below | above }`: a Prometheus HTTP API instant query
//! (`GET <url>/api/v1/query?query=…`) whose result must cross the bound, e.g. the share
//! of verifications still using the previous key below 0.05 before it is retired. A
//! scalar result, or every sample of a vector result, must satisfy the bound; an empty
//! vector does not.

use std::time::Duration;

use serde::Deserialize;

use super::http::{client, without_url};

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "Spec")]
pub struct MetricsCheck {
    endpoint: String,
    query: String,
    bound: Bound,
}

#[derive(Clone, Copy, Debug)]
enum Bound {
    Below(f64),
    Above(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    url: String,
    query: String,
    below: Option<f64>,
    above: Option<f64>,
}

impl TryFrom<Spec> for MetricsCheck {
    type Error = String;
    fn try_from(s: Spec) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(&s.url)
            .map_err(|e| format!("metrics: `{}` is not a URL: {e}", s.url))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("metrics: `{}` is not an http or https URL", s.url));
        }
        if s.query.trim().is_empty() {
            return Err("metrics: the query is empty".into());
        }
        if let Some(b) = s.below.or(s.above).filter(|b| !b.is_finite()) {
            return Err(format!("metrics: the bound {b} is not a finite number"));
        }
        let bound = match (s.below, s.above) {
            (Some(b), None) => Bound::Below(b),
            (None, Some(a)) => Bound::Above(a),
            _ => return Err("metrics: give exactly one of `below` or `above`".into()),
        };
        let base = s.url.trim_end_matches('/');
        let endpoint = if base.ends_with("/api/v1/query") {
            base.to_owned()
        } else {
            format!("{base}/api/v1/query")
        };
        Ok(MetricsCheck {
            endpoint,
            query: s.query,
            bound,
        })
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    data: Option<Data>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

#[async_trait::async_trait]
impl super::Probe for MetricsCheck {
    fn describe(&self) -> String {
        let bound = match self.bound {
            Bound::Below(b) => format!("below {b}"),
            Bound::Above(a) => format!("above {a}"),
        };
        format!("metrics `{}` {bound}", self.query)
    }

    /// The endpoint, query and bound: what the answer depends on.
    fn unit_key(&self, _unit: usize, _: &super::Context<'_>) -> String {
        format!(
            "metrics|{}|{}|{}",
            self.endpoint,
            self.query,
            self.describe()
        )
    }

    async fn preflight_unit(
        &self,
        _unit: usize,
        clients: &rotor_provider::Clients,
    ) -> rotor_provider::Verdict {
        super::answers(&self.endpoint, clients).await
    }

    async fn poll_unit(
        &self,
        _unit: usize,
        ctx: &super::Context<'_>,
        timeout: Duration,
    ) -> Result<(), super::Unsatisfied> {
        Ok(self.poll(timeout, ctx.clients).await?)
    }
}

impl MetricsCheck {
    async fn poll(
        &self,
        timeout: Duration,
        clients: &rotor_provider::Clients,
    ) -> Result<(), String> {
        let resp = client(clients)
            .get(&self.endpoint)
            .query(&[("query", self.query.as_str())])
            .timeout(timeout.min(Duration::from_secs(10)))
            .send()
            .await
            .map_err(|e| format!("{}: {}", self.endpoint, without_url(e)))?;
        let code = resp.status();
        let body = super::body_capped(resp, 4 << 20)
            .await
            .map_err(|e| format!("{}: {e}", self.endpoint))?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|_| {
            format!(
                "{} answered {} without a Prometheus API document",
                self.endpoint,
                code.as_u16()
            )
        })?;
        if answer.status != "success" {
            return Err(format!(
                "the query failed: {}",
                answer.error.unwrap_or_else(|| answer.status.clone())
            ));
        }
        let values = values(answer.data.as_ref())?;
        if values.is_empty() {
            return Err("the query returned no data".into());
        }
        for v in &values {
            let ok = match self.bound {
                Bound::Below(b) => *v < b,
                Bound::Above(a) => *v > a,
            };
            if !ok {
                return Err(format!("the query is at {v}"));
            }
        }
        Ok(())
    }
}

/// The numbers in a scalar or vector result.
fn values(data: Option<&Data>) -> Result<Vec<f64>, String> {
    let data = data.ok_or("the answer has no data")?;
    let number = |pair: &serde_json::Value| -> Result<f64, String> {
        pair.get(1)
            .and_then(|v| v.as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("cannot read a sample value in {pair}"))
    };
    match data.result_type.as_str() {
        "scalar" => Ok(vec![number(&data.result)?]),
        "vector" => data
            .result
            .as_array()
            .ok_or("a vector result that is not a list")?
            .iter()
            .map(|s| number(&s["value"]))
            .collect(),
        other => Err(format!(
            "a `{other}` result; the query must give a scalar or an instant vector"
        )),
    }
}
