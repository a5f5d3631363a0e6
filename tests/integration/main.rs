//! One integration test binary: each module drives the real `vizier` binary against real git
//! repositories in temp folders, with an isolated git and home environment.

mod fixtures;
mod support;
mod validate;
