//! `worktree.prepare` (builtin): a git worktree for the rest of the run at
//! `.vizier/tmp-worktrees/<purpose>-<job_id>` on `args.branch` (created from HEAD when missing).
//!
//! Ownership is written twice: a claim in the job's folder before `git worktree add` (so a crash or
//! a cancel in between still leaves an owner on record), and the `worktree_*` metadata of the
//! outcome, which the scheduler merges into the manifest before any successor starts; successors
//! inherit `execution_root` and `worktree_*` along success edges.

use serde_json::json;

use super::context::{WORKTREES_DIR, WorktreeClaim, safe_name};
use super::git_cmd::{self, same_path};
use super::{OpContext, OpResult};
use crate::workspace::resolve_inside;

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    prepare(ctx).unwrap_or_else(OpResult::failed)
}

fn prepare(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let branch = ctx.required("branch")?;
    let purpose = safe_name("purpose", ctx.arg("purpose").unwrap_or("worktree"))?;
    let here = &ctx.execution_root;
    let root = ctx.repo_root();
    git_cmd::check_branch_name(here, "branch", branch)?;

    let name = format!("{purpose}-{}", ctx.job_id());
    let rel = format!("{WORKTREES_DIR}/{name}");
    let path = resolve_inside(&root, &rel).map_err(|e| e.to_string())?;
    let existed = git_cmd::branch_sha(here, branch).is_some();
    let listed = git_cmd::worktrees(&root)?;
    let mut reused = false;
    let mut reused_from: Option<String> = None;
    if let Some(found) = listed.iter().find(|w| same_path(&w.path, &path)) {
        // An earlier attempt of this very job (a loop-back re-ran it) made it: the same branch is
        // still checked out there, so it is reused rather than made twice.
        if found.branch.as_deref() != Some(branch) {
            return Err(format!(
                "`{rel}` is already a worktree of {}, not of `{branch}`; remove it with `git worktree remove` or `vizier jobs retry`",
                found
                    .branch
                    .as_deref()
                    .map_or("a detached HEAD".to_owned(), |b| format!("`{b}`"))
            ));
        }
        reused = true;
    } else if path.exists() {
        return Err(format!(
            "`{rel}` already exists and is not a git worktree; move it away and run the node again"
        ));
    } else {
        // A worktree an earlier, finished run of this template left on the branch (a failed run
        // never reaches its cleanup) is removed when it is clean; anything else is named.
        let mut made_way = None;
        if existed {
            let template = ctx.manifest_now()?.template.map(|t| t.id);
            made_way = super::run_clean::make_way(
                ctx.store,
                branch,
                &path,
                &ctx.spec.run_id,
                template.as_deref(),
            )?;
            if let Some(note) = &made_way {
                // The job's stderr is its log file.
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "vizier: {note}");
            }
        }
        reused_from = made_way;
        WorktreeClaim::new(ctx, &rel, Some(branch)).write(ctx.store)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{WORKTREES_DIR}`: {e}"))?;
        }
        let path_arg = path.as_os_str();
        let out = if existed {
            git_cmd::run(
                here,
                [
                    "worktree".as_ref(),
                    "add".as_ref(),
                    path_arg,
                    branch.as_ref(),
                ],
            )?
        } else {
            git_cmd::run(
                here,
                [
                    "worktree".as_ref(),
                    "add".as_ref(),
                    "-b".as_ref(),
                    branch.as_ref(),
                    path_arg,
                    "HEAD".as_ref(),
                ],
            )?
        };
        if !out.ok() {
            WorktreeClaim::remove(ctx.store, ctx.job_id());
            return Err(format!(
                "cannot add a worktree on branch `{branch}`: {}",
                out.reason()
            ));
        }
    }

    let mut result = OpResult::succeeded();
    let md = &mut result.metadata;
    md.insert("worktree_path".into(), json!(rel));
    md.insert("worktree_name".into(), json!(name));
    md.insert("worktree_owned".into(), json!(true));
    md.insert("worktree_job".into(), json!(ctx.job_id()));
    md.insert("worktree_branch".into(), json!(branch));
    md.insert("worktree_created_branch".into(), json!(!existed));
    if reused {
        md.insert("worktree_reused".into(), json!(true));
    }
    if let Some(note) = reused_from {
        md.insert("worktree_made_way".into(), json!(note));
    }
    md.insert("execution_root".into(), json!(rel));
    Ok(result)
}
