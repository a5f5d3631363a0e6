//! `git.integrate_plan_branch` (builtin): merges `args.branch` into `args.target_branch` (default:
//! the current branch), squashed (default) or `--no-ff`, landing only what passes CI — as a merge
//! queue does.
//!
//! 1. The merge is always built in a temporary worktree detached at the target's commit, never in
//!    a checkout of the target. A checkout of the target with uncommitted changes to tracked files
//!    fails the node first, naming them; nothing is changed.
//! 2. When the node carries a `cicd` gate (`gates = [{ kind = "cicd", script = "…" }]`), its script
//!    runs in that worktree, on the merged result. When it fails, the worktree goes, the target
//!    stays exactly where it was, and the node fails saying so.
//! 3. Only then does the target ref move, compare-and-swap from the commit the merge was built on
//!    (a concurrent move fails the node and is not lost), and a checkout of the target — clean
//!    again at that moment, or the node fails naming the files with the ref unmoved — is
//!    fast-forwarded to it.
//!
//! Conflicts end the node `blocked`: the merge sentinel records the temporary worktree where the
//! conflicted merge waits, for `gate.conflict_resolution`. When the gate has resolved and committed
//! it there, it leaves an `integrated.json` record in this job's folder; the loop-back that re-runs
//! this node finds the resolved merge and lands it through steps 2 and 3.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::context::{WORKTREES_DIR, WorktreeClaim, safe_name, slug_of_branch};
use super::git_cmd::{self, same_path};
use super::merge_sentinel::{self, SENTINEL_DIR, Sentinel};
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
    /// The resolved merge commit (on the target once landed).
    pub commit: String,
    pub resolved_at: String,
    /// The target's commit the merge was built on; the ref moves from it when the merge lands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_before: Option<String>,
    /// The temporary worktree holding the resolved merge until it lands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
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
    let listed = git_cmd::worktrees(&root)?;
    let checkout = listed
        .iter()
        .find(|w| w.branch.as_deref() == Some(&req.target))
        .map(|w| w.path.clone());
    if let Some(path) = &checkout {
        check_checkout(ctx, &req.target, path, "nothing was changed")?;
    }

    // The conflict resolution of this run resolved this merge: it landed, or it waits to.
    if let Some(done) = Integrated::read(ctx.store, ctx.job_id())
        && &done.run_id == run_id
        && done.source_commit == source_sha
    {
        if git_cmd::is_ancestor(here, &done.commit, &target_sha) {
            return finish(
                ctx,
                &req,
                &done.commit,
                "completed by the conflict resolution",
            );
        }
        if let (Some(before), Some(rel)) = (&done.target_before, &done.worktree)
            && *before == target_sha
            && let Ok(dir) = resolve_inside(&root, rel)
            && dir.is_dir()
            && git_cmd::rev(&dir, "HEAD").as_deref() == Some(done.commit.as_str())
        {
            let landing = Landing {
                dir: &dir,
                commit: &done.commit,
                target_before: &target_sha,
                checkout: checkout.as_deref(),
            };
            return land(ctx, &req, &landing, "completed by the conflict resolution");
        }
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

    let dir = temporary_worktree(ctx, &root, &listed, &target_sha)?;
    let rel = ctx.repo_relative(&dir);
    match merge(&dir, &req) {
        Merge::Done(None) => {
            drop_worktree(ctx, &root, &rel);
            finish(
                ctx,
                &req,
                &target_sha,
                "nothing to merge: the target already has these changes",
            )
        }
        Merge::Done(Some(commit)) => {
            let landing = Landing {
                dir: &dir,
                commit: &commit,
                target_before: &target_sha,
                checkout: checkout.as_deref(),
            };
            land(ctx, &req, &landing, "merged")
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
                temporary: true,
                target_before: Some(target_sha),
                conflicts: conflicts.clone(),
                written_at: crate::store::now(),
            };
            let sentinel_rel = merge_sentinel::write(ctx.store, &root, &sentinel)?;
            let mut result = OpResult {
                outcome: crate::template::Outcome::Blocked,
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
            drop_worktree(ctx, &root, &rel);
            Err(format!(
                "cannot merge `{}` into `{}`: {reason}",
                req.source, req.target
            ))
        }
    }
}

/// A checkout of the target must be clean to be fast-forwarded: no merge of its own in progress, no
/// uncommitted change to a tracked file (untracked files are left alone; git refuses to overwrite
/// them). `then` says what became of the merge when it is not.
fn check_checkout(
    ctx: &OpContext<'_>,
    target: &str,
    path: &Path,
    then: &str,
) -> Result<(), String> {
    let unfinished = git_cmd::unmerged_paths(path)?;
    if !unfinished.is_empty() {
        return Err(format!(
            "target branch `{target}` is checked out at `{}` in the middle of a merge (conflicts in {}); finish it, or undo it with `git reset --merge` there ({then})",
            ctx.repo_relative(path),
            quoted(&unfinished)
        ));
    }
    let dirty = git_cmd::dirty_paths(path, false)?;
    if !dirty.is_empty() {
        return Err(format!(
            "target branch `{target}` is checked out at `{}` with uncommitted changes to {}; commit or stash them first ({then})",
            ctx.repo_relative(path),
            quoted(&dirty)
        ));
    }
    Ok(())
}

/// A merge built in the temporary worktree `dir`, ready to land.
struct Landing<'a> {
    dir: &'a Path,
    commit: &'a str,
    /// The target's commit the merge was built on.
    target_before: &'a str,
    /// Where the target is checked out, if anywhere.
    checkout: Option<&'a Path>,
}

/// Runs CI on the merged result, then moves the target (compare-and-swap) and fast-forwards its
/// checkout. The temporary worktree is removed however it ends.
fn land(
    ctx: &OpContext<'_>,
    req: &Request,
    landing: &Landing<'_>,
    note: &str,
) -> Result<OpResult, String> {
    let root = ctx.repo_root();
    let rel = ctx.repo_relative(landing.dir);
    let (commit, before) = (landing.commit, landing.target_before);
    let short = |sha: &str| sha.get(..12).unwrap_or(sha).to_owned();
    let mut ci_exit = None;
    // The `cicd` gate's script: CI that must pass on the merged result before it lands.
    if let Some(script) = ctx.cicd_gate_script() {
        let mut env = ctx.env.clone();
        env.retain(|(k, _)| k != crate::process::ROOT_ENV);
        env.extend([
            (
                crate::process::ROOT_ENV.to_owned(),
                landing.dir.display().to_string(),
            ),
            ("VIZIER_MERGE_COMMIT".to_owned(), commit.to_owned()),
            ("VIZIER_MERGE_SOURCE".to_owned(), req.source.clone()),
            ("VIZIER_MERGE_TARGET".to_owned(), req.target.clone()),
            ("VIZIER_MERGE_TARGET_BEFORE".to_owned(), before.to_owned()),
        ]);
        let code = match crate::process::run_shell(script, landing.dir, &env) {
            Ok(code) => code,
            Err(e) => {
                drop_worktree(ctx, &root, &rel);
                return Err(format!(
                    "cannot run the CI script on the merged result: {e}; `{}` stays at {}",
                    req.target,
                    short(before)
                ));
            }
        };
        if code != 0 {
            drop_worktree(ctx, &root, &rel);
            let mut result = OpResult::failed(format!(
                "CI failed on the merged result {} (the `cicd` gate's script exited with code {code}); nothing landed: `{}` stays at {}",
                short(commit),
                req.target,
                short(before)
            ));
            result.exit_code = Some(code);
            let md = &mut result.metadata;
            md.insert("merge_result".into(), json!(commit));
            md.insert("merge_target_commit".into(), json!(before));
            md.insert("merge_ci_exit_code".into(), json!(code));
            md.insert("merge_source".into(), json!(req.source));
            md.insert("merge_target".into(), json!(req.target));
            md.insert("merge_mode".into(), json!(mode(req.squash)));
            return Ok(result);
        }
        ci_exit = Some(code);
    }
    let passed = if ci_exit.is_some() {
        format!("the merged result {} passed CI, but ", short(commit))
    } else {
        String::new()
    };
    let moved = move_target(ctx, &req.target, commit, before, landing.checkout, &passed);
    drop_worktree(ctx, &root, &rel);
    moved?;
    let mut result = finish(ctx, req, commit, note)?;
    if let Some(code) = ci_exit {
        result
            .metadata
            .insert("merge_ci_exit_code".into(), json!(code));
    }
    result
        .metadata
        .insert("merge_target_before".into(), json!(before));
    Ok(result)
}

/// Moves `target` from `before` to `commit`, compare-and-swap, and fast-forwards its checkout (if
/// any) — which must be clean at that moment, or nothing moves. On any failure the ref is where it
/// was (or where someone else moved it). `passed` starts the messages ("the merged result … passed
/// CI, but ").
fn move_target(
    ctx: &OpContext<'_>,
    target: &str,
    commit: &str,
    before: &str,
    checkout: Option<&Path>,
    passed: &str,
) -> Result<(), String> {
    let root = ctx.repo_root();
    let short = |sha: &str| sha.get(..12).unwrap_or(sha).to_owned();
    let unmoved = format!("{passed}`{target}` stays at {}", short(before));
    // The checkout may have changed while CI ran: it must be clean now to be fast-forwarded.
    if let Some(path) = checkout {
        check_checkout(ctx, target, path, &unmoved)?;
    }
    if let Err(e) = move_ref(&root, target, commit, before) {
        return Err(match git_cmd::branch_sha(&root, target) {
            Some(now) if now != before => format!(
                "{passed}`{target}` moved meanwhile (from {} to {}), so the merge built on {} did not land; run the merge again",
                short(before),
                short(&now),
                short(before)
            ),
            _ => format!("{e}; {unmoved}"),
        });
    }
    if let Some(path) = checkout
        && let Err(e) = fast_forward_checkout(path, before, commit)
    {
        // Put the ref back, so the checkout and its branch agree again.
        return Err(match move_ref(&root, target, before, commit) {
            Ok(()) => format!(
                "cannot bring the checkout of `{target}` at `{}` to the merge: {e}; {unmoved}",
                ctx.repo_relative(path)
            ),
            Err(back) => format!(
                "cannot bring the checkout of `{target}` at `{}` to the merge ({e}), nor put the ref back ({back})",
                ctx.repo_relative(path)
            ),
        });
    }
    Ok(())
}

/// Brings a checkout whose branch just moved from `from` to `to` along: index and files go from
/// `from`'s tree to `to`'s. It refuses, changing nothing, where a local change would be lost.
fn fast_forward_checkout(path: &Path, from: &str, to: &str) -> Result<(), String> {
    git_cmd::ok(path, ["read-tree", "-m", "-u", from, to]).map(|_| ())
}

/// Removes this job's temporary worktree and its claim (best effort: a leftover is reported by
/// `worktree.cleanup` and `vizier jobs retry`).
fn drop_worktree(ctx: &OpContext<'_>, root: &Path, rel: &str) {
    let _ = remove_worktree(root, rel, true);
    WorktreeClaim::remove(ctx.store, ctx.job_id());
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

/// Completes a conflicted merge whose conflicts are all resolved: commits it, records the result
/// for the integrate job, and clears the sentinel. A merge in a temporary worktree stays there
/// for the integrate job's re-run to check and land when that node has a `cicd` gate, and lands now
/// (the target moves, its checkout is fast-forwarded) when it has none; one left in a checkout of
/// the target (by an older vizier) is committed there. Returns the commit.
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
    // A merge resolved in its temporary worktree: when the integrate node carries a `cicd` gate,
    // the merge stays there for the node's re-run (the gate's loop-back) to check and land;
    // without one it lands now.
    let (target_before, worktree) = if s.temporary {
        let before = s
            .target_before
            .as_deref()
            .ok_or("the merge sentinel does not record the target's commit")?;
        let needs_ci = ctx
            .store
            .job_spec(&s.job_id)
            .map(|spec| {
                spec.node
                    .gates
                    .iter()
                    .any(|g| g.kind == crate::template::GateKind::Cicd)
            })
            .unwrap_or(true);
        if needs_ci {
            (Some(before.to_owned()), Some(rel.clone()))
        } else {
            if commit != before {
                let checkout = git_cmd::worktrees(&root)?
                    .into_iter()
                    .find(|w| w.branch.as_deref() == Some(target.as_str()))
                    .map(|w| w.path);
                move_target(ctx, &target, &commit, before, checkout.as_deref(), "")?;
            }
            remove_worktree(&root, &rel, true)?;
            WorktreeClaim::remove(ctx.store, &s.job_id);
            (None, None)
        }
    } else {
        (None, None)
    };
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
        target_before,
        worktree,
    }
    .write(ctx.store)?;
    merge_sentinel::clear(&root, &s.slug, &s.run_id)?;
    Ok(commit)
}
