//! One integration test binary: each module drives the real `vizier` binary against real git
//! repositories in temp folders, with an isolated git and home environment.

mod ci_action;
mod ci_run;
mod compose;
mod fixtures;
mod hooks;
mod init;
mod jobs;
mod kill_loop;
mod ops_agent;
mod ops_git;
mod run;
mod schema;
mod store_defense;
mod support;
mod validate;
mod validate_bombs;
mod validate_fuzz;
