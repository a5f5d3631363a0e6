//! `git.integrate_plan_branch` (builtin): merges `args.branch` into `args.target_branch` (default:
//! the current branch), squashed (default) or `--no-ff`.
//!
//! Where the target is checked out, the merge happens there, and only when that work tree has no
//! uncommitted changes to tracked files (otherwise the node fails naming them, having changed
//! nothing; untracked files are left alone — git refuses to overwrite them). Where it is not, the
//! merge happens in a temporary worktree detached at the target, and the target ref then moves
//! from the commit it had to the merge (compare-and-swap, so a concurrent move is not lost).
//!
//! Conflicts end the node `blocked`: the merge sentinel records where the conflicted merge waits,
//! and that work tree is left as it is for `gate.conflict_resolution`. When the gate completes the
//! merge, it leaves an `integrated.json` record in this job's folder; the loop-back that re-runs
//! this node finds it and succeeds without merging twice.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::git_cmd::{self, same_path};
use super::merge_sentinel::{self, SENTINEL_DIR, Sentinel};
use super::run_state::{WORKTREES_DIR, WorktreeClaim, safe_name, slug_of_branch};
use super::worktree_cleanup::remove_worktree;
use super::{OpContext, OpResult};
use crate::store::{Store, to_json, write_atomic};
use crate::workspace::resolve_inside;

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    integrate(ctx).unwrap_or_else(OpResult::failed)
}

/// A merge of this run's integrate job that `gate.conflict_resolution` completed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Integrated {
    pub version: u32,
    pub run_id: String,
    pub job_id: String,
    pub branch: String,
    pub target_branch: String,
    /// The source branch's commit that was merged.
    pub source_commit: String,
    /// The commit the target moved to.
    pub commit: String,
    pub resolved_at: String,
}

impl Integrated {
    fn path(store: &Store, job_id: &str) -> PathBuf {
        store.job_dir(job_id).join("integrated.json")
    }

    pub fn read(store: &Store, job_id: &str) -> Option<Integrated> {
        serde_json::from_slice(&std::fs::read(Self::path(store, job_id)).ok()?).ok()
    }

    pub fn write(&self, store: &Store) -> Result<(), String> {
        write_atomic(&Self::path(store, &self.job_id), &to_json(self)).map_err(|e| e.to_string())
    }
}

struct Request {
    source: String,
    target: String,
    squash: bool,
    delete: bool,
    slug: String,
    message: String,
}

fn request(ctx: &OpContext<'_>) -> Result<Request, String> {
    let here = &ctx.execution_root;
    let source = ctx.required("branch")?;
    git_cmd::check_branch_name(here, "branch", source)?;
    let target = match ctx.arg("target_branch") {
        Some(t) => t.to_owned(),
        None => git_cmd::current_branch(here).ok_or(
            "`args.target_branch` is not set and HEAD is detached, so there is no current branch to merge into",
        )?,
    };
    git_cmd::check_branch_name(here, "target_branch", &target)?;
    if source == target {
        return Err(format!(
            "`branch` and `target_branch` are both `{source}`; there is nothing to merge"
        ));
    }
    let slug = match ctx.arg("slug") {
        Some(s) => safe_name("slug", s)?.to_owned(),
        None => safe_name("slug", &slug_of_branch(source))
            .map_err(|e| format!("{e} (derived from `branch`; set `args.slug`)"))?
            .to_owned(),
    };
    Ok(Request {
        source: source.to_owned(),
        squash: ctx.bool_arg("squash", true)?,
        delete: ctx.bool_arg("delete_branch", false)?,
        message: ctx
            .arg("message")
            .map_or_else(|| format!("feat: merge plan {slug}"), str::to_owned),
        slug,
        target,
    })
}

/// `` `a`, `b` ``: paths for a message.
pub fn quoted(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mode(squash: bool) -> &'static str {
    if squash { "squash" } else { "no-ff" }
}

fn integrate(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let req = request(ctx)?;
    let root = ctx.repo_root();
    let here = &ctx.execution_root;
    let run_id = &ctx.spec.run_id;
    let source_sha = git_cmd::branch_sha(here, &req.source)
        .ok_or_else(|| format!("source branch `{}` does not exist", req.source))?;
    let target_sha = git_cmd::branch_sha(here, &req.target)
        .ok_or_else(|| format!("target branch `{}` does not exist", req.target))?;

    // The conflict resolution of this run already completed this merge.
    if let Some(done) = Integrated::read(ctx.store, ctx.job_id())
        && &done.run_id == run_id
        && done.source_commit == source_sha
        && git_cmd::is_ancestor(here, &done.commit, &target_sha)
    {
        return finish(
            ctx,
            &req,
            &done.commit,
            "completed by the conflict resolution",
        );
    }
    if let Some(s) = merge_sentinel::read(&root, &req.slug)? {
        if &s.run_id == run_id {
            return Err(format!(
                "this run's merge of `{}` still waits for conflict resolution in `{}` (sentinel `{SENTINEL_DIR}/{}.json`); resolve it, or `vizier jobs retry {}` to start over",
                req.slug,
                s.worktree.as_deref().unwrap_or("."),
                req.slug,
                ctx.job_id()
            ));
        }
        let active = ctx.store.active_runs().map_err(|e| e.to_string())?;
        if active.contains(&s.run_id) {
            return Err(format!(
                "run `{}` holds the merge sentinel `{SENTINEL_DIR}/{}.json` and is still active; two runs cannot merge the same slug at once",
                s.run_id, req.slug
            ));
        }
    }
    let listed = git_cmd::worktrees(&root)?;
    if req.delete
        && let Some(w) = listed
            .iter()
            .find(|w| w.branch.as_deref() == Some(&req.source))
    {
        return Err(format!(
            "`delete_branch` is set but `{}` is checked out at `{}`; nothing was merged",
            req.source,
            ctx.repo_relative(&w.path)
        ));
    }

    let (dir, temporary) = match listed
        .iter()
        .find(|w| w.branch.as_deref() == Some(&req.target))
    {
        Some(w) => {
            let unfinished = git_cmd::unmerged_paths(&w.path)?;
            if !unfinished.is_empty() {
                return Err(format!(
                    "target branch `{}` is checked out at `{}` in the middle of a merge (conflicts in {}); finish it, or undo it with `git reset --merge` there (nothing was changed)",
                    req.target,
                    ctx.repo_relative(&w.path),
                    quoted(&unfinished)
                ));
            }
            let dirty = git_cmd::dirty_paths(&w.path, false)?;
            if !dirty.is_empty() {
                return Err(format!(
                    "target branch `{}` is checked out at `{}` with uncommitted changes to {}; commit or stash them first (nothing was changed)",
                    req.target,
                    ctx.repo_relative(&w.path),
                    quoted(&dirty)
                ));
            }
            (w.path.clone(), false)
        }
        None => (temporary_worktree(ctx, &root, &listed, &target_sha)?, true),
    };
    let rel = ctx.repo_relative(&dir);

    match merge(&dir, &req) {
        Merge::Done(commit) => {
            let commit = commit.unwrap_or_else(|| target_sha.clone());
            if temporary {
                if commit != target_sha {
                    move_ref(&root, &req.target, &commit, &target_sha)?;
                }
                remove_worktree(&root, &rel, true)?;
                WorktreeClaim::remove(ctx.store, ctx.job_id());
            }
            let note = if commit == target_sha {
                "nothing to merge: the target already has these changes"
            } else {
                "merged"
            };
            finish(ctx, &req, &commit, note)
        }
        Merge::Conflicts(conflicts) => {
            let sentinel = Sentinel {
                version: 1,
                run_id: run_id.clone(),
                job_id: ctx.job_id().to_owned(),
                slug: req.slug.clone(),
                branch: req.source.clone(),
                target_branch: Some(req.target.clone()),
                mode: Some(mode(req.squash).to_owned()),
                message: Some(req.message.clone()),
                worktree: Some(rel.clone()),
                temporary,
                target_before: Some(target_sha),
                conflicts: conflicts.clone(),
                written_at: crate::store::now(),
            };
            let sentinel_rel = merge_sentinel::write(ctx.store, &root, &sentinel)?;
            let mut result = OpResult {
                outcome: "blocked",
                message: Some(format!(
                    "merging `{}` into `{}` stopped on conflicts in {}; the conflicted merge waits in `{rel}` (sentinel `{sentinel_rel}`)",
                    req.source,
                    req.target,
                    quoted(&conflicts)
                )),
                ..OpResult::default()
            };
            let md = &mut result.metadata;
            md.insert("merge_conflicts".into(), json!(conflicts));
            md.insert("merge_worktree".into(), json!(rel));
            md.insert("merge_sentinel".into(), json!(sentinel_rel));
            md.insert("merge_source".into(), json!(req.source));
            md.insert("merge_target".into(), json!(req.target));
            md.insert("merge_mode".into(), json!(mode(req.squash)));
            Ok(result)
        }
        Merge::Failed(reason) => {
            if temporary {
                let _ = remove_worktree(&root, &rel, true);
                WorktreeClaim::remove(ctx.store, ctx.job_id());
            }
            Err(format!(
                "cannot merge `{}` into `{}`: {reason}",
                req.source, req.target
            ))
        }
    }
}

/// A worktree detached at the target, owned by this job (claimed before it is made).
fn temporary_worktree(
    ctx: &OpContext<'_>,
    root: &Path,
    listed: &[git_cmd::Worktree],
    target_sha: &str,
) -> Result<PathBuf, String> {
    let rel = format!("{WORKTREES_DIR}/merge-{}", ctx.job_id());
    let path = resolve_inside(root, &rel).map_err(|e| e.to_string())?;
    if path.exists() || listed.iter().any(|w| same_path(&w.path, &path)) {
        // Left by an earlier attempt of this job: ours to replace only if our claim says so.
        match WorktreeClaim::read(ctx.store, ctx.job_id()) {
            Some(claim) if claim.path == rel => {
                remove_worktree(root, &rel, true)?;
            }
            _ => {
                return Err(format!(
                    "`{rel}` already exists and this job has no claim on it; remove it and run the node again"
                ));
            }
        }
    }
    WorktreeClaim::new(ctx, &rel, None).write(ctx.store)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create `{WORKTREES_DIR}`: {e}"))?;
    }
    let out = git_cmd::run(
        root,
        [
            "worktree".as_ref(),
            "add".as_ref(),
            "--detach".as_ref(),
            path.as_os_str(),
            std::ffi::OsStr::new(target_sha),
        ],
    )?;
    if !out.ok() {
        WorktreeClaim::remove(ctx.store, ctx.job_id());
        return Err(format!(
            "cannot add a temporary worktree to merge in: {}",
            out.reason()
        ));
    }
    Ok(path)
}

enum Merge {
    /// The merge commit, or `None` when there was nothing to merge.
    Done(Option<String>),
    Conflicts(Vec<String>),
    Failed(String),
}

fn merge(dir: &Path, req: &Request) -> Merge {
    match merge_inner(dir, req) {
        Ok(m) => m,
        Err(e) => Merge::Failed(e),
    }
}

fn merge_inner(dir: &Path, req: &Request) -> Result<Merge, String> {
    let before = git_cmd::rev(dir, "HEAD");
    let out = if req.squash {
        git_cmd::run(dir, ["merge", "--squash", &req.source])?
    } else {
        git_cmd::run(
            dir,
            [
                "merge",
                "--no-ff",
                "--no-edit",
                "-m",
                &req.message,
                &req.source,
            ],
        )?
    };
    let conflicts = git_cmd::unmerged_paths(dir)?;
    if !conflicts.is_empty() {
        return Ok(Merge::Conflicts(conflicts));
    }
    if !out.ok() {
        if !req.squash && git_cmd::git_path(dir, "MERGE_HEAD")?.exists() {
            let _ = git_cmd::run(dir, ["merge", "--abort"]);
        }
        return Ok(Merge::Failed(out.reason()));
    }
    if !req.squash {
        let after = git_cmd::rev(dir, "HEAD");
        return Ok(Merge::Done(after.filter(|a| Some(a) != before.as_ref())));
    }
    match git_cmd::commit_staged(dir, &req.message) {
        Ok(commit) => {
            if commit.is_none() {
                // A squash with nothing to apply still leaves its message for the next commit.
                let _ = std::fs::remove_file(git_cmd::git_path(dir, "SQUASH_MSG")?);
            }
            Ok(Merge::Done(commit))
        }
        Err(e) => {
            // The work tree was clean before: put it back as it was.
            let _ = git_cmd::run(dir, ["reset", "-q", "--merge"]);
            let _ = std::fs::remove_file(git_cmd::git_path(dir, "SQUASH_MSG")?);
            Ok(Merge::Failed(e))
        }
    }
}

/// Moves `refs/heads/<target>` from `from` to `to`, failing if someone else moved it meanwhile.
fn move_ref(root: &Path, target: &str, to: &str, from: &str) -> Result<(), String> {
    git_cmd::ok(
        root,
        [
            "update-ref",
            "-m",
            &format!("vizier: integrate into {target}"),
            &format!("refs/heads/{target}"),
            to,
            from,
        ],
    )
    .map(|_| ())
    .map_err(|e| format!("cannot move `{target}` to the merge commit {to}: {e}"))
}

fn finish(
    ctx: &OpContext<'_>,
    req: &Request,
    commit: &str,
    note: &str,
) -> Result<OpResult, String> {
    if req.delete {
        let root = ctx.repo_root();
        git_cmd::ok(&root, ["branch", "-D", &req.source]).map_err(|e| {
            format!(
                "merged `{}` into `{}` ({commit}), but could not delete `{}`: {e}",
                req.source, req.target, req.source
            )
        })?;
    }
    let mut result = OpResult::succeeded();
    let md = &mut result.metadata;
    md.insert("merge_commit".into(), json!(commit));
    md.insert("merge_source".into(), json!(req.source));
    md.insert("merge_target".into(), json!(req.target));
    md.insert("merge_mode".into(), json!(mode(req.squash)));
    md.insert("merge_note".into(), json!(note));
    md.insert("branch_deleted".into(), json!(req.delete));
    Ok(result)
}

/// The folder a sentinel's conflicted merge waits in.
pub fn conflicted_dir(ctx: &OpContext<'_>, s: &Sentinel) -> Result<PathBuf, String> {
    let root = ctx.repo_root();
    match s.worktree.as_deref() {
        None => Ok(ctx.execution_root.clone()),
        Some(".") => Ok(root),
        Some(rel) => {
            let dir = resolve_inside(&root, rel).map_err(|e| e.to_string())?;
            if dir.is_dir() {
                Ok(dir)
            } else {
                Err(format!(
                    "the conflicted work tree `{rel}` named by the merge sentinel no longer exists"
                ))
            }
        }
    }
}

/// Completes a conflicted merge whose conflicts are all resolved: commits it, moves the target
/// when the merge ran in a temporary worktree (and removes that worktree), records the result for
/// the integrate job, and clears the sentinel. Returns the commit.
pub fn complete(ctx: &OpContext<'_>, s: &Sentinel) -> Result<String, String> {
    let root = ctx.repo_root();
    let dir = conflicted_dir(ctx, s)?;
    let rel = ctx.repo_relative(&dir);
    let target = s
        .target_branch
        .clone()
        .ok_or("the merge sentinel names no `target_branch`")?;
    let message = s
        .message
        .clone()
        .unwrap_or_else(|| format!("feat: merge plan {}", s.slug));
    if !s.temporary && git_cmd::current_branch(&dir).as_deref() != Some(target.as_str()) {
        return Err(format!(
            "`{rel}` no longer has `{target}` checked out; the conflicted merge cannot be completed there"
        ));
    }
    let abandoned = || {
        format!(
            "the conflicted merge in `{rel}` was abandoned (aborted or reset); run the merge again"
        )
    };
    let commit = if s.mode.as_deref() == Some("no-ff") {
        if !git_cmd::git_path(&dir, "MERGE_HEAD")?.exists() {
            return Err(abandoned());
        }
        git_cmd::ok(&dir, ["commit", "-q", "--no-edit", "-m", &message])
            .map_err(|e| format!("cannot commit the resolved merge: {e}"))?;
        git_cmd::rev(&dir, "HEAD").ok_or("HEAD names no commit after the merge commit")?
    } else {
        let squash_msg = git_cmd::git_path(&dir, "SQUASH_MSG")?;
        if !squash_msg.exists() && !git_cmd::has_staged_changes(&dir)? {
            return Err(abandoned());
        }
        let commit = git_cmd::commit_staged(&dir, &message)
            .map_err(|e| format!("cannot commit the resolved merge: {e}"))?;
        let _ = std::fs::remove_file(&squash_msg);
        match commit {
            Some(c) => c,
            None => git_cmd::rev(&dir, "HEAD").ok_or("HEAD names no commit")?,
        }
    };
    if s.temporary {
        let before = s
            .target_before
            .as_deref()
            .ok_or("the merge sentinel does not record the target's commit")?;
        if commit != before {
            move_ref(&root, &target, &commit, before)?;
        }
        remove_worktree(&root, &rel, true)?;
        WorktreeClaim::remove(ctx.store, &s.job_id);
    }
    let source_commit = git_cmd::branch_sha(&root, &s.branch).unwrap_or_default();
    Integrated {
        version: 1,
        run_id: s.run_id.clone(),
        job_id: s.job_id.clone(),
        branch: s.branch.clone(),
        target_branch: target,
        source_commit,
        commit: commit.clone(),
        resolved_at: crate::store::now(),
    }
    .write(ctx.store)?;
    merge_sentinel::clear(&root, &s.slug, &s.run_id)?;
    Ok(commit)
}
