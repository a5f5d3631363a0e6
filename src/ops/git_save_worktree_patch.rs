//! `git.save_worktree_patch` (builtin): saves `git diff --binary HEAD` of the execution root — the
//! uncommitted changes to tracked files, binary ones included — to
//! `.vizier/jobs/<job_id>/command.patch`. An empty patch is a success.

use serde_json::json;

use super::git_cmd;
use super::{OpContext, OpResult};
use crate::store::{JOBS_DIR, write_atomic};

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    save(ctx).unwrap_or_else(OpResult::failed)
}

fn save(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let out = git_cmd::run(&ctx.execution_root, ["diff", "--binary", "HEAD"])?;
    if !out.ok() {
        return Err(format!(
            "cannot diff `{}` against HEAD: {}",
            ctx.repo_relative(&ctx.execution_root),
            out.reason()
        ));
    }
    let path = ctx.store.job_dir(ctx.job_id()).join("command.patch");
    write_atomic(&path, &out.stdout).map_err(|e| e.to_string())?;
    let mut result = OpResult::succeeded();
    result.metadata.insert(
        "patch_path".into(),
        json!(format!("{JOBS_DIR}/{}/command.patch", ctx.job_id())),
    );
    result
        .metadata
        .insert("patch_bytes".into(), json!(out.stdout.len()));
    Ok(result)
}
