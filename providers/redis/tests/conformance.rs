//! The conformance suite against a real redis-server, in both layouts, with a password
//! that must never show.

use rotor_provider_redis::RedisProvider;
use rotor_testkit::conformance;
use rotor_testkit::redis::{Options, Redis};

#[tokio::test]
async fn conformance_in_both_layouts() {
    let pw = "conf-pw-0a1b2c3d4e5f";
    let r = Redis::with(Options {
        password: Some(pw.into()),
        ..Options::default()
    });
    let url = format!("redis://:{pw}@127.0.0.1:{}", r.port());
    conformance::of::<RedisProvider>(
        serde_json::json!({ "url": url, "key": "conf:{hash}" }),
        &[pw],
    )
    .await;
    conformance::of::<RedisProvider>(
        serde_json::json!({ "url": url, "keys": {
            "current": "conf:{s}:current", "previous": "conf:{s}:previous", "pending": "conf:{s}:pending" } }),
        &[pw],
    )
    .await;
}
