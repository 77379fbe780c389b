//! The phase engine: runs the plans of one run's secrets in lockstep against their
//! targets, recording each step in the journal (so an interrupted run can be resumed)
//! and reporting it as a typed [`Event`] to a [`Sink`]; it never prints.
//!
//! Every write is check-and-set against the version this run last read or wrote, so a
//! change made by anyone else between two of rotor's steps is a conflict, never
//! overwritten. Every step checks before it acts: a target already holding what a write
//! step wants is left alone.
//!
//! Where things are: [`target`] (the stores and keys of a secret), [`plan`] (the steps
//! of an operation), [`batch`] (rounds and shared signal units), [`run`] (the loop),
//! one file per step kind ([`write`], [`verify`], [`signal`], [`monitor`]), [`event`]
//! (events and sinks), [`journal`], and [`action`] (the signal actions and checks).

pub mod action;
pub mod batch;
pub mod event;
pub mod journal;
mod monitor;
pub mod plan;
pub mod run;
mod signal;
pub mod sink;
pub mod target;
mod verify;
mod write;

pub use event::{Event, StepOutcome, What};
pub use run::{Engine, Member, Status, run};
pub use sink::{Record, Sink};
pub use target::{KeyPool, TargetFilter, TargetState, agreed, describe, label, open_targets};
