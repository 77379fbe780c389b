//! Every Vault reply is bounded in size: a server (or something posing as one) that
//! answers with gigabytes must not grow rotor to gigabytes. vaultrs's own HTTP client reads
//! a whole body before anyone sees it, so rotor runs the same endpoints (vaultrs's request
//! types, its middleware adding the token and namespace, its error parsing) through a
//! client of its own over the same connection pool, which stops reading past [`MAX_REPLY`].

use rustify::endpoint::Endpoint;
use rustify::errors::ClientError as RestError;
use vaultrs::api::{EndpointError, EndpointResult};
use vaultrs::client::VaultClient;
use vaultrs::error::ClientError;

/// The largest reply rotor reads: far above any answer to the calls rotor makes (a KV
/// secret, its metadata, a token's capabilities).
pub const MAX_REPLY: usize = 4 * 1024 * 1024;

/// What a reply past the bound fails with.
#[derive(Debug, thiserror::Error)]
#[error("the reply is larger than {} MiB, more than any answer to this call; rotor stopped reading it", MAX_REPLY / (1024 * 1024))]
pub struct TooLarge;

/// vaultrs's HTTP client (its pool, TLS settings and timeout), reading bounded bodies.
struct Bounded<'a>(&'a rustify::clients::reqwest::Client);

#[async_trait::async_trait]
impl rustify::client::Client for Bounded<'_> {
    fn base(&self) -> &str {
        self.0.base.as_str()
    }

    async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, RestError> {
        let request = reqwest::Request::try_from(req)
            .map_err(|e| RestError::ReqwestBuildError { source: e })?;
        let url = request.url().to_string();
        let method = request.method().to_string();
        let mut response =
            self.0
                .http
                .execute(request)
                .await
                .map_err(|e| RestError::RequestError {
                    source: e.into(),
                    url,
                    method,
                })?;
        let too_large = || RestError::ResponseError {
            source: TooLarge.into(),
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_REPLY as u64)
        {
            return Err(too_large());
        }
        let mut out = http::Response::builder().status(response.status().as_u16());
        for (k, v) in response.headers() {
            out = out.header(k, v);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| RestError::ResponseError { source: e.into() })?
        {
            if body.len() + chunk.len() > MAX_REPLY {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        out.body(body)
            .map_err(|e| RestError::ResponseError { source: e.into() })
    }
}

/// Runs `endpoint` as `vaultrs::api::exec_with_result` does (the token and namespace
/// added by vaultrs's middleware, Vault's error list parsed, the `data` of the answer
/// returned), reading at most [`MAX_REPLY`] bytes of the answer.
pub async fn exec<E: Endpoint>(
    client: &VaultClient,
    endpoint: E,
) -> Result<E::Response, ClientError> {
    let result = endpoint
        .with_middleware(&client.middle)
        .exec(&Bounded(&client.http))
        .await
        .map_err(parse_err)?
        .wrap::<EndpointResult<_>>()
        .map_err(ClientError::from)?;
    result.data.ok_or(ClientError::ResponseDataEmptyError)
}

/// Vault's own error list, as vaultrs parses it.
fn parse_err(e: RestError) -> ClientError {
    if let RestError::ServerResponseError {
        code,
        content: Some(c),
    } = &e
        && let Ok(err) = serde_json::from_str::<EndpointError>(c)
    {
        return ClientError::APIError {
            code: *code,
            errors: err.errors,
        };
    }
    ClientError::from(e)
}
