//! `git.stage_commit` (builtin): stages everything in the execution root — apart from vizier's own
//! folders (`.vizier/jobs`, `.vizier/tmp`, `.vizier/tmp-worktrees`), which must never be committed —
//! and commits it with `args.message`. Nothing to commit is a success.

use serde_json::json;

use super::git_cmd;
use super::{OpContext, OpResult};

pub const DEFAULT_MESSAGE: &str = "chore: workflow stage commit";

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    stage_commit(ctx).unwrap_or_else(OpResult::failed)
}

fn stage_commit(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let message = ctx.arg("message").unwrap_or(DEFAULT_MESSAGE);
    let dir = &ctx.execution_root;
    let mut args: Vec<String> = ["add", "-A", "--", "."].map(String::from).to_vec();
    args.extend(git_cmd::exclude_own(dir)?);
    git_cmd::ok(dir, &args).map_err(|e| format!("cannot stage the changes: {e}"))?;
    let commit = git_cmd::commit_staged(dir, message)?;
    let mut result = OpResult::succeeded();
    let md = &mut result.metadata;
    md.insert("committed".into(), json!(commit.is_some()));
    if let Some(sha) = &commit {
        md.insert("commit_sha".into(), json!(sha));
    } else {
        result.message = Some("nothing to commit".into());
    }
    if let Some(branch) = git_cmd::current_branch(dir) {
        result
            .metadata
            .insert("commit_branch".into(), json!(branch));
    }
    Ok(result)
}
