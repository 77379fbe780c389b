//! One integration-test binary; each module drives the real `rotor` binary.

mod support;

mod audit;
mod bounds;
mod check;
mod crash;
mod deploy;
mod engine;
#[cfg(all(
    feature = "aws-ssm",
    feature = "aws-secretsmanager",
    feature = "vault",
    feature = "kubernetes",
    feature = "redis"
))]
mod faults;
#[cfg(all(feature = "gcp-secretmanager", feature = "vault"))]
mod gcp;
#[cfg(all(
    feature = "vault",
    feature = "aws-ssm",
    feature = "redis",
    feature = "sql",
    feature = "os-keyring",
    feature = "aws-secretsmanager",
    feature = "kubernetes",
    feature = "gcp-secretmanager"
))]
mod hardening;
mod hostile;
mod hosts;
mod interrupt;
mod jwks;
#[cfg(all(feature = "os-keyring", feature = "sql"))]
mod keyring;
#[cfg(feature = "kubernetes")]
mod kubernetes;
mod leak;
mod lifecycle;
#[cfg(feature = "demo")]
mod live;
mod lockstep;
mod metrics;
mod notify;
#[cfg(feature = "redis")]
mod redis;
#[cfg(all(feature = "redis", feature = "sql", feature = "vault"))]
mod restarts;
mod runbooks;
mod schema;
#[cfg(all(feature = "aws-secretsmanager", feature = "aws-ssm"))]
mod secretsmanager;
mod shards;
#[cfg(feature = "sql")]
mod sql;
#[cfg(feature = "aws-ssm")]
mod ssm;
mod state;
#[cfg(feature = "vault")]
mod targets;
#[cfg(feature = "vault")]
mod vault;
