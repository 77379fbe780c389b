//! The end-to-end tests' harness: everything comes from `rotor-testkit` (servers, the
//! sandbox, faults), under the paths the tests name.

pub use rotor_testkit::*;
