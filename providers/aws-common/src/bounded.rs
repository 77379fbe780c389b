//! Every AWS reply is bounded in size: a server (or something posing as one) that sends
//! a reply of gigabytes must not grow rotor to gigabytes. An interceptor wraps each
//! response body, before the SDK reads it, in a body that fails past [`MAX_REPLY`] bytes.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

/// The largest reply rotor reads: far above what SSM or Secrets Manager ever answer a
/// call rotor makes (a secret is at most 64 KiB, ten parameters at most 80 KiB).
pub const MAX_REPLY: usize = 4 * 1024 * 1024;

/// The interceptor; add it to each service client's configuration.
#[derive(Clone, Copy, Debug, Default)]
pub struct BoundedReplies;

/// What a reply past the bound fails with (the SDK names it in its error).
#[derive(Debug, thiserror::Error)]
#[error("the reply is larger than {} MiB, more than any answer to this call; rotor stopped reading it", MAX_REPLY / (1024 * 1024))]
pub struct TooLarge;

impl Intercept for BoundedReplies {
    fn name(&self) -> &'static str {
        "rotor-bounded-replies"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_REPLY as u64) {
            return Err(Box::new(TooLarge));
        }
        let body = response.take_body();
        let limited = http_body_util::Limited::new(body, MAX_REPLY);
        *response.body_mut() = SdkBody::from_body_1_x(http_body_util::BodyExt::map_err(
            limited,
            |e: BoxError| -> BoxError {
                if e.is::<http_body_util::LengthLimitError>() {
                    Box::new(TooLarge)
                } else {
                    e
                }
            },
        ));
        Ok(())
    }
}
