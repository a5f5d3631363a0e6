//! CI: everything `vizier ci` needs around a run, but not the run itself.
//!
//! - [`event`] reads the push that triggered the job (GitHub's event file and variables), classifies it
//!   (deleted, created, forced, tag) and computes the changed paths with git; event values leave it only
//!   as environment variables for nodes, never as text to splice.
//! - [`github`] writes the runner's files and workflow commands: `GITHUB_OUTPUT`, the step summary,
//!   annotations (at most 10 errors per step, ranked) and log groups, within GitHub's limits.
//! - [`CiOutcome`] is the one vocabulary of the `outcome` output: `succeeded`, `failed`, `skipped`.
//! - [`summary`] turns manifests into the Markdown step summary: a table and a mermaid DAG.
//! - [`push`] turns the push into the trigger of its runs; [`report`] ends a CI job (annotations,
//!   summary, outputs) the same way for one runner and for many.
//! - [`fanout`] spreads one run over many runners: the plan of groups and levels, one group on one
//!   runner, and the collection of every group into the one final manifest.
//!
//! It does not materialize or schedule runs (that is the store and scheduler), and it does not print:
//! it returns text and data for `cli/` to write.

pub mod event;
pub mod fanout;
pub mod github;
mod outcome;
pub mod push;
pub mod report;
pub mod run;
pub mod summary;

pub use crate::error::CiError;
pub use outcome::CiOutcome;
