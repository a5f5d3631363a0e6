//! The worktrees a finished run left behind: who owns one (from vizier's own records), making way
//! for a new run of the same template, and `vizier jobs clean <run_id>`.
//!
//! A failed run never reaches its `worktree.cleanup` node, so its worktree stays on its branch for
//! inspection, and `git worktree add` of the same branch by the next run would fail. The next run's
//! `worktree.prepare` removes such a worktree only when the records prove an earlier, finished run
//! of the same template created it and `git status --porcelain` there prints nothing; otherwise it
//! fails naming the run that owns the worktree and `vizier jobs clean <run_id>`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::context::{WorktreeClaim, is_worktree_path};
use super::git_cmd::{self, same_path};
use super::merge_sentinel;
use super::worktree_cleanup::remove_worktree;
use crate::error::{Error, Result};
use crate::store::{Manifest, Store};

/// A worktree a job of some run created, by the records.
#[derive(Debug, Clone)]
pub struct Owned {
    pub job_id: String,
    /// `.vizier/tmp-worktrees/<name>`.
    pub path: String,
    pub branch: Option<String>,
    /// Whether that job created the branch too (so `--delete-branches` may delete it).
    pub created_branch: bool,
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// The worktrees the jobs of run `m` created: from each job's claim file and its `worktree_*`
/// metadata (both name the job itself as creator).
pub fn owned_by(store: &Store, m: &Manifest) -> Vec<Owned> {
    let mut out: Vec<Owned> = Vec::new();
    for n in &m.nodes {
        let md = &n.metadata;
        let created_branch = md.get("worktree_created_branch") == Some(&json!(true));
        if let Some(claim) = WorktreeClaim::read(store, &n.job_id)
            && claim.run_id == m.run_id
            && claim.job_id == n.job_id
            && is_worktree_path(&claim.path)
        {
            out.push(Owned {
                job_id: n.job_id.clone(),
                path: claim.path,
                branch: claim.branch,
                created_branch,
            });
        }
        if text(md.get("worktree_job")) == Some(n.job_id.as_str())
            && md.get("worktree_owned") == Some(&json!(true))
            && let Some(path) = text(md.get("worktree_path"))
            && is_worktree_path(path)
        {
            match out.iter_mut().find(|o| o.path == path) {
                Some(o) => o.created_branch |= created_branch,
                None => out.push(Owned {
                    job_id: n.job_id.clone(),
                    path: path.to_owned(),
                    branch: text(md.get("worktree_branch")).map(str::to_owned),
                    created_branch,
                }),
            }
        }
    }
    out
}

fn real_root(store: &Store) -> PathBuf {
    store
        .root
        .canonicalize()
        .unwrap_or_else(|_| store.root.clone())
}

/// `path` relative to `root` with `/`, when it is inside.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(root)
        .ok()
        .map(|r| r.to_string_lossy().replace('\\', "/"))
}

/// `git status --porcelain` in `dir`, trimmed; an error when git cannot say.
fn porcelain(dir: &Path) -> std::result::Result<String, String> {
    let out = git_cmd::read(dir, ["status", "--porcelain"])?;
    if !out.ok() {
        return Err(out.failure());
    }
    Ok(out.text())
}

/// Makes way for a new worktree on `branch` for run `run_id` of template `template_id`, at `target`:
/// when another worktree has `branch` checked out, it is removed if an earlier, finished run of the
/// same template created it and it is clean. Returns a note saying what was removed (`None` when
/// nothing stood in the way), or the reason the new worktree cannot be made.
pub fn make_way(
    store: &Store,
    branch: &str,
    target: &Path,
    run_id: &str,
    template_id: Option<&str>,
) -> std::result::Result<Option<String>, String> {
    let root = real_root(store);
    let listed = git_cmd::worktrees(&root)?;
    let Some(holder) = listed
        .iter()
        .skip(1) // the main worktree is the person's: never made way for
        .find(|w| w.branch.as_deref() == Some(branch) && !same_path(&w.path, target))
    else {
        return Ok(None);
    };
    let where_ = relative(&root, &holder.path).unwrap_or_else(|| holder.path.display().to_string());
    let (manifests, _) = store.all_manifests();
    let owner = manifests.iter().find_map(|m| {
        owned_by(store, m)
            .into_iter()
            .find(|o| o.path == where_)
            .map(|o| (m, o))
    });
    let Some((m, owned)) = owner else {
        return Err(format!(
            "branch `{branch}` is checked out in the worktree `{where_}`, which no vizier run created; remove it with `git worktree remove {}`",
            holder.path.display()
        ));
    };
    let clean_hint = format!("`vizier jobs clean {}` removes it", m.run_id);
    if m.run_id == run_id {
        return Err(format!(
            "branch `{branch}` is checked out in `{where_}`, made by `{}` of this run",
            owned.job_id
        ));
    }
    if !m.is_finished() {
        return Err(format!(
            "branch `{branch}` is checked out in `{where_}`, a worktree of run `{}`, which is still active; wait for it or cancel its jobs, then {clean_hint}",
            m.run_id
        ));
    }
    let same_template = m.template.as_ref().map(|t| t.id.as_str()) == template_id;
    if !same_template {
        return Err(format!(
            "branch `{branch}` is checked out in `{where_}`, a worktree of run `{}` of another template; {clean_hint}",
            m.run_id
        ));
    }
    let status = porcelain(&holder.path)?;
    if !status.is_empty() {
        return Err(format!(
            "branch `{branch}` is checked out in `{where_}`, a worktree of the finished run `{}`, and it has uncommitted changes; commit or discard them there, then {clean_hint}",
            m.run_id
        ));
    }
    remove_worktree(&root, &where_, false)?;
    WorktreeClaim::remove(store, &owned.job_id);
    Ok(Some(format!(
        "removed the clean worktree `{where_}` left on `{branch}` by the finished run `{}`",
        m.run_id
    )))
}

/// What `vizier jobs clean` did.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub worktrees: Vec<String>,
    /// Merge sentinels of the run that were cleared (`.vizier/tmp/merge-conflicts/<slug>.json`).
    pub sentinels: Vec<String>,
    pub branches_deleted: Vec<String>,
    /// Branches kept, with why (`--delete-branches` not given, unmerged work, not created by the run).
    pub branches_kept: Vec<String>,
    pub records: usize,
}

/// Removes what finished run `run_id` left: its worktrees (never forced: a worktree with changes
/// stops the clean before anything is removed), its merge sentinels, its markers, artifacts, plan, job records and
/// manifest. With `delete_branches`, also the branches its jobs created, each only when
/// `git branch -d` agrees it holds nothing unmerged. Nothing of another run is touched.
pub fn clean_run(store: &Store, run_id: &str, delete_branches: bool) -> Result<Cleaned> {
    let _lock = store.lock()?;
    let m = store
        .load_manifest(run_id)?
        .ok_or_else(|| Error::Usage(format!("no run `{run_id}` in {}", store.dir.display())))?;
    let active = store.active_runs()?.iter().any(|r| r == run_id);
    if !m.is_finished() || active {
        return Err(Error::Usage(format!(
            "run `{run_id}` has not finished; cancel its jobs (`vizier jobs cancel <job_id>`) first"
        )));
    }
    let root = real_root(store);
    let owned = owned_by(store, &m);
    // Check every worktree before removing any, so a refusal leaves the run whole.
    for o in &owned {
        let path = root.join(&o.path);
        if path.exists() {
            let status = porcelain(&path).map_err(Error::git)?;
            if !status.is_empty() {
                return Err(Error::Usage(format!(
                    "the worktree `{}` of run `{run_id}` has uncommitted changes; commit or discard them there first",
                    o.path
                )));
            }
        }
    }
    let mut cleaned = Cleaned::default();
    for o in &owned {
        if remove_worktree(&root, &o.path, false).map_err(Error::git)? {
            cleaned.worktrees.push(o.path.clone());
        }
    }
    let _ = git_cmd::ok(&root, ["worktree", "prune"]);
    for s in merge_sentinel::for_run(&root, run_id).map_err(Error::git)? {
        if merge_sentinel::clear(&root, &s.slug, run_id).map_err(Error::git)?
            == merge_sentinel::Cleared::Removed
        {
            cleaned
                .sentinels
                .push(format!("{}/{}.json", merge_sentinel::SENTINEL_DIR, s.slug));
        }
    }
    let mut branches: Vec<(&str, bool)> = Vec::new();
    for o in &owned {
        if let Some(b) = o.branch.as_deref()
            && !branches.iter().any(|(x, _)| *x == b)
        {
            branches.push((b, o.created_branch));
        }
    }
    for (branch, created) in branches {
        if !delete_branches {
            cleaned
                .branches_kept
                .push(format!("{branch} (kept; --delete-branches deletes it)"));
        } else if !created {
            cleaned
                .branches_kept
                .push(format!("{branch} (kept: it existed before the run)"));
        } else {
            let out = git_cmd::read(&root, ["branch", "-d", branch]).map_err(Error::git)?;
            if out.ok() {
                cleaned.branches_deleted.push(branch.to_owned());
            } else {
                cleaned
                    .branches_kept
                    .push(format!("{branch} (kept: {})", out.failure()));
            }
        }
    }
    for n in &m.nodes {
        let dir = store.job_dir(&n.job_id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|source| Error::Write { path: dir, source })?;
            cleaned.records += 1;
        }
    }
    for sub in ["artifacts/custom", "artifacts/data", "artifacts/outputs"] {
        let _ = std::fs::remove_dir_all(store.dir.join(sub).join(run_id));
    }
    let _ = std::fs::remove_file(store.plan_path(run_id));
    let manifest = store.manifest_path(run_id);
    std::fs::remove_file(&manifest).map_err(|source| Error::Write {
        path: manifest,
        source,
    })?;
    store.set_active(run_id, false)?;
    Ok(cleaned)
}
