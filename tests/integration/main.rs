//! One integration test binary: each module drives the real `vizier` binary against real git
//! repositories in temp folders, with an isolated git and home environment.

mod ci_action;
mod ci_run;
mod fixtures;
mod jobs;
mod ops_git;
mod run;
mod schema;
mod support;
mod validate;
mod validate_fuzz;
