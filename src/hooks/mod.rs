//! Git hooks: installing vizier's hook scripts into the folder git really uses, keeping
//! and chaining hooks that were there before, reporting their state, and the checks the scripts call
//! back into (`vizier hook pre-commit`, `vizier hook pre-push`).
//!
//! What it owns: the hooks folder (`folder`), the script text and how a managed script is recognised
//! (`script`), the file moves of install/uninstall/status (`install`), and what the hooks validate
//! (`check`). What it does not own: validation itself (`validate`), reading the index and commit
//! trees (`workspace`, `git`), and printing (`cli::hooks`).

mod check;
mod folder;
pub mod husky;
mod install;
mod script;
mod staged;

pub use check::{
    PreCommit, PushOutcome, framework_push, parse_push_input, pre_commit, pre_push, short,
};
pub use folder::{HooksFolder, locate};
pub use install::{
    HookReport, HookState, InstallOutcome, UninstallOutcome, install, status, uninstall,
};

/// A git hook vizier provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum HookName {
    PreCommit,
    PrePush,
}

impl HookName {
    /// The hooks installed when none is named.
    pub const ALL: [HookName; 2] = [HookName::PreCommit, HookName::PrePush];

    /// The file name git runs.
    pub fn file_name(self) -> &'static str {
        match self {
            HookName::PreCommit => "pre-commit",
            HookName::PrePush => "pre-push",
        }
    }

    /// The hooks named on the command line, de-duplicated, or all of them when none is.
    pub fn selection(given: &[HookName]) -> Vec<HookName> {
        let mut hooks = if given.is_empty() {
            HookName::ALL.to_vec()
        } else {
            given.to_vec()
        };
        hooks.sort();
        hooks.dedup();
        hooks
    }
}

impl std::fmt::Display for HookName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file_name())
    }
}
