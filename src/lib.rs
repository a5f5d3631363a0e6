//! vizier: workflow templates as a checked, runnable part of a git repository.
//!
//! Data flows one way: `template` (model and spans) → `validate` (rules and findings) → later
//! stages. `cli` is the only module that prints. See `docs/ARCHITECTURE.md`.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod agent;
pub mod ci;
pub mod cli;
pub mod compile;
pub(crate) mod config;
pub mod diagnostic;
pub mod error;
pub(crate) mod exit;
pub(crate) mod failure;
pub(crate) mod git;
pub(crate) mod hooks;
pub mod init;
pub(crate) mod launch;
pub(crate) mod ops;
pub(crate) mod outputs;
pub(crate) mod process;
pub(crate) mod record_schema;
pub(crate) mod runner;
pub(crate) mod schedule;
pub(crate) mod schema;
pub(crate) mod store;
pub mod template;
pub mod validate;
pub mod workspace;
