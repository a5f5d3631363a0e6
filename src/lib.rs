//! vizier: workflow templates as a checked, runnable part of a git repository.
//!
//! Data flows one way: `template` (model and spans) → `validate` (rules and findings) → later
//! stages. `cli` is the only module that prints. See `docs/ARCHITECTURE.md`.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod agent;
pub mod ci;
pub mod cli;
pub mod compile;
pub mod config;
pub mod diagnostic;
pub mod error;
pub mod exec;
pub mod exit;
pub mod failure;
pub mod git;
pub mod hooks;
pub mod init;
pub mod launch;
pub mod ops;
pub mod outputs;
pub mod record_schema;
pub mod runner;
pub mod schedule;
pub mod schema;
pub mod store;
pub mod template;
pub mod validate;
pub mod workspace;
