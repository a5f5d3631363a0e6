//! CI: everything `vizier ci` needs around a run, but not the run itself.
//!
//! - [`event`] reads the push that triggered the job (GitHub's event file and variables), classifies it
//!   (deleted, created, forced, tag) and computes the changed paths with git; event values leave it only
//!   as environment variables for nodes, never as text to splice.
//! - [`github`] writes the runner's files and workflow commands: `GITHUB_OUTPUT`, the step summary,
//!   annotations (at most 10 errors per step, ranked) and log groups, within GitHub's limits.
//! - [`manifest_view`] reads a run manifest tolerantly; the store owns the writer.
//! - [`summary`] turns manifests into the Markdown step summary: a table and a mermaid DAG.
//!
//! It does not materialize or schedule runs (that is the store and scheduler), and it does not print:
//! it returns text and data for `cli/` to write.

mod error;
pub mod event;
pub mod github;
pub mod manifest_view;
pub mod summary;

pub use error::CiError;
