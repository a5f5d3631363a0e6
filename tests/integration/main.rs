//! One integration test binary: each module drives the real `vizier` binary against real git
//! repositories in temp folders, with an isolated git and home environment.

mod ci_act;
mod ci_action;
mod ci_release;
mod ci_run;
mod compose;
mod fixtures;
mod hooks;
mod init;
mod jobs;
mod liveness;
mod ops_agent;
mod ops_git;
mod run;
mod schema;
mod support;
mod validate;
mod validate_fuzz;
