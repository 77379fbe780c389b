//! `http: { url | urls, method, headers, expect_status }`: a reload hook called on each
//! URL. Header values may name environment variables (`${RELOAD_TOKEN}`), read when the
//! hook runs; header values are never printed, logged or audited, only their names.
//!
//! Also the one HTTP client every HTTP action and check shares.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// One client (and connection pool) for every hook, probe, query and notification of
/// the run. It follows a redirect only within the origin (scheme, host and port) of the
/// URL first asked, at most 5 times, and never sends `Referer`: a reload hook's headers
/// (`X-Api-Key: ${VAR}`), a signed webhook body or a token in a Slack or Teams URL never
/// reach another host. A redirect it does not follow is answered as the 3xx it is.
pub fn client(clients: &rotor_provider::Clients) -> std::sync::Arc<reqwest::Client> {
    clients.shared("http", || {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::custom(same_origin))
            .referer(false)
            .build()
            .expect("the HTTP client builds with default settings")
    })
}

/// The redirect policy of [`client`].
fn same_origin(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first().map(reqwest::Url::origin);
    if attempt.previous().len() > 5 {
        attempt.error("too many redirects")
    } else if first.is_some_and(|o| o == attempt.url().origin()) {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "HttpSpec")]
pub struct HttpSignal {
    urls: Vec<String>,
    method: reqwest::Method,
    headers: BTreeMap<String, String>,
    expect_status: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSpec {
    url: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default = "post")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    expect_status: Option<u16>,
}

fn post() -> String {
    "POST".into()
}

impl TryFrom<HttpSpec> for HttpSignal {
    type Error = String;
    fn try_from(s: HttpSpec) -> Result<Self, String> {
        let urls = super::urls("http", s.url, s.urls)?;
        let method = reqwest::Method::from_bytes(s.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("http: `{}` is not an HTTP method", s.method))?;
        for name in s.headers.keys() {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("http: `{name}` is not a header name"))?;
        }
        if let Some(code) = s.expect_status
            && !(100..=599).contains(&code)
        {
            return Err(format!("http: expect_status {code} is not an HTTP status"));
        }
        Ok(HttpSignal {
            urls,
            method,
            headers: s.headers,
            expect_status: s.expect_status,
        })
    }
}

/// Whether the host and port of `url` accept a TCP connection within 5 s.
pub async fn reachable(url: &str) -> rotor_provider::Verdict {
    let Ok(u) = reqwest::Url::parse(url) else {
        return rotor_provider::Verdict::Fail("not a URL".into());
    };
    let (Some(host), Some(port)) = (u.host_str(), u.port_or_known_default()) else {
        return rotor_provider::Verdict::Fail("the URL names no host".into());
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(_)) => rotor_provider::Verdict::Pass,
        Ok(Err(e)) => rotor_provider::Verdict::Fail(format!("{host}:{port}: {e}")),
        Err(_) => rotor_provider::Verdict::Fail(format!("{host}:{port}: no connection within 5s")),
    }
}

/// `${NAME}` replaced by the environment variable's value; an unset one is an error
/// naming it.
pub(crate) fn expand(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "an unclosed `${`".to_owned())?;
        let name = &after[..end];
        let v =
            std::env::var(name).map_err(|_| format!("environment variable `{name}` is not set"))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[async_trait::async_trait]
impl super::Signal for HttpSignal {
    fn describe(&self) -> String {
        let more = match self.urls.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        format!("http {} {}{more}", self.method, self.urls[0])
    }

    fn units(&self) -> usize {
        self.urls.len()
    }

    fn describe_unit(&self, unit: usize) -> String {
        format!("http {} {}", self.method, self.urls[unit])
    }

    /// The same method on the same URL with the same headers (as written, before
    /// `${VAR}` expansion).
    fn unit_key(&self, unit: usize, _: &[String], _: &str) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{}={v}", n.to_ascii_lowercase()))
            .collect();
        format!(
            "http|{}|{}|{}",
            self.method,
            self.urls[unit],
            headers.join("\n")
        )
    }

    /// `rotor check`: the hook's host accepts a connection (the hook is not called).
    async fn preflight_unit(
        &self,
        unit: usize,
        _: &rotor_provider::Clients,
    ) -> rotor_provider::Verdict {
        reachable(&self.urls[unit]).await
    }

    async fn run_unit(
        &self,
        unit: usize,
        ctx: &super::Context<'_>,
    ) -> Result<Option<String>, String> {
        let url = &self.urls[unit];
        let mut req = client(ctx.clients)
            .request(self.method.clone(), url)
            .timeout(super::SIGNAL_TIMEOUT);
        for (name, value) in &self.headers {
            let value = expand(value)?;
            let mut v = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|_| format!("header `{name}` has a value that cannot be sent"))?;
            v.set_sensitive(true);
            req = req.header(name.as_str(), v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{} {url} failed: {}", self.method, without_url(e)))?;
        let status = resp.status();
        let ok = match self.expect_status {
            Some(code) => status.as_u16() == code,
            None => status.is_success(),
        };
        if ok {
            Ok(None)
        } else {
            let want = self
                .expect_status
                .map_or_else(|| "2xx".to_owned(), |c| c.to_string());
            Err(format!(
                "{} {url} answered {}, expected {want}",
                self.method,
                status.as_u16()
            ))
        }
    }
}

/// A reqwest error's text with its source chain, without repeating the URL.
pub fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        rotor_provider::error::chain(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_environment_variables_and_names_a_missing_one() {
        // PATH is set wherever tests run.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand("a ${PATH} b").unwrap(), format!("a {path} b"));
        assert_eq!(expand("plain").unwrap(), "plain");
        let e = expand("Bearer ${ROTOR_SURELY_UNSET_VAR}").unwrap_err();
        assert!(e.contains("ROTOR_SURELY_UNSET_VAR"), "{e}");
        assert!(expand("${OPEN").is_err());
    }
}
