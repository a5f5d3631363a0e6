//! One integration test binary: each module drives the real `vizier` binary against real git
//! repositories in temp folders, with an isolated git and home environment.

mod agents;
mod agents_doc;
mod architecture;
mod ci_act;
mod ci_action;
mod ci_fanout;
mod ci_fanout_workflow;
mod ci_release;
mod ci_run;
mod cli;
mod compose;
mod fixtures;
mod hooks;
mod init;
mod jobs;
mod kill_loop;
mod liveness;
mod ops_agent;
mod ops_git;
mod outputs;
mod prompt_files;
mod pty;
mod run;
mod run_ids;
mod run_inputs;
mod run_locks;
mod run_wakeups;
mod schema;
mod store_defense;
mod support;
mod user_config;
mod validate;
mod validate_bombs;
mod validate_fuzz;
mod worktree_reuse;
