//! rotor's test kit, shared by the CLI's end-to-end tests and each provider crate's own
//! tests (`providers/<x>/tests/`).
//!
//! - Real servers, each started on a free loopback port and waited for until it answers
//!   (never a sleep): OpenBao ([`bao`]), moto for SSM and Secrets Manager ([`moto`]),
//!   Redis ([`redis`]), PostgreSQL and MariaDB ([`sql`]), gnome-keyring on a private
//!   D-Bus ([`keyring`]), and the project's stateful Kubernetes API server ([`kube`]) and
//!   Secret Manager server ([`gsm`]).
//!   A missing server fails the test that needs it; nothing is skipped.
//! - Faults: a byte-level proxy that loses answers ([`wire`]), TLS material ([`tls`]).
//! - The [`Sandbox`]: a temporary directory running the real `rotor` binary, where every
//!   output and state file is searched for every key when it is dropped.
//! - The [`conformance`] suite every provider's target must pass.

// Fixtures own processes and temporary directories; a Debug form would say nothing a
// failing test needs.
#![allow(missing_debug_implementations)]

pub mod bao;
pub mod conformance;
pub mod demo;
pub mod gsm;
pub mod http;
pub mod keyring;
pub mod kube;
pub mod moto;
pub mod net;
pub mod prom;
pub mod redis;
mod sandbox;
pub mod sql;
pub mod tls;
pub mod web;
pub mod wire;

pub use sandbox::*;
