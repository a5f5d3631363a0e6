//! `worktree.cleanup` (builtin), and the clean-up `vizier jobs retry` / `cancel` do.
//!
//! The operation removes only the worktree its inherited context names, and only when the record of
//! the job named as its creator says that job of this run created exactly that folder under
//! `.vizier/tmp-worktrees/`. It never forces: a worktree with uncommitted changes is
//! kept and the node fails with git's reason. A run that failed earlier never reaches its cleanup
//! node, so its worktree stays for inspection.
//!
//! `jobs retry` / `cancel` remove what the rewound or cancelled jobs own (their claim files and
//! their own `worktree_*` records), forcing, since the person asked to start over — but never a
//! worktree a job outside that set still uses; what cannot be removed is reported, not hidden.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::context::{WorktreeClaim, is_worktree_path};
use super::git_cmd::{self, same_path};
use super::merge_sentinel;
use super::{OpContext, OpResult};
use crate::store::{Manifest, Store};
use crate::workspace::resolve_inside;

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    let mut result = cleanup(ctx).unwrap_or_else(OpResult::failed);
    result.metadata.insert("execution_root".into(), json!("."));
    result
}

fn text<'m>(md: &'m BTreeMap<String, Value>, key: &str) -> Option<&'m str> {
    md.get(key).and_then(Value::as_str)
}

fn cleanup(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let manifest = ctx.manifest_now()?;
    let own = manifest
        .nodes
        .iter()
        .find(|n| n.job_id == ctx.job_id())
        .ok_or_else(|| format!("job `{}` is not in its run's manifest", ctx.job_id()))?;
    let md = &own.metadata;
    let Some(path) = text(md, "worktree_path") else {
        let mut result = OpResult::succeeded();
        result
            .metadata
            .insert("worktree_removed".into(), json!(false));
        return Ok(result);
    };
    if md.get("worktree_owned") != Some(&json!(true)) {
        return Err(format!(
            "the worktree `{path}` in this node's context is not owned by this run (`worktree_owned` is not true); not removing it"
        ));
    }
    let owner = text(md, "worktree_job").ok_or_else(|| {
        format!("the context names worktree `{path}` but no `worktree_job` that created it; not removing it")
    })?;
    if !is_worktree_path(path) {
        return Err(format!(
            "`{path}` is not a folder directly under `.vizier/tmp-worktrees/`; not removing it"
        ));
    }
    let creator = manifest
        .nodes
        .iter()
        .find(|n| n.job_id == owner)
        .ok_or_else(|| {
            format!(
                "worktree `{path}` was created by `{owner}`, which is not a job of this run; not removing it"
            )
        })?;
    let says_so = creator.executor_operation.as_deref() == Some("worktree.prepare")
        && creator.metadata.get("worktree_job") == Some(&json!(owner))
        && creator.metadata.get("worktree_owned") == Some(&json!(true))
        && creator.metadata.get("worktree_path") == Some(&json!(path));
    if !says_so {
        return Err(format!(
            "the record of `{owner}` does not say it created `{path}`; not removing it"
        ));
    }
    let removed = remove_worktree(&ctx.repo_root(), path, false)?;
    WorktreeClaim::remove(ctx.store, owner);
    let mut result = OpResult::succeeded();
    result
        .metadata
        .insert("worktree_removed".into(), json!(removed));
    Ok(result)
}

/// Removes the worktree at repository-relative `rel`, then prunes git's list. `Ok(false)` when it
/// was already gone. Without `force`, git refuses a worktree with uncommitted changes and that
/// refusal is the error; with it, changes and an interrupted `worktree add` are removed too.
pub fn remove_worktree(root: &Path, rel: &str, force: bool) -> Result<bool, String> {
    if !is_worktree_path(rel) {
        return Err(format!(
            "`{rel}` is not a folder directly under `.vizier/tmp-worktrees/`; not removing it"
        ));
    }
    let path = resolve_inside(root, rel).map_err(|e| e.to_string())?;
    let listed = git_cmd::worktrees(root)?;
    let registered = listed.iter().find(|w| same_path(&w.path, &path));
    let mut removed = false;
    if path.exists() {
        match registered {
            Some(w) => {
                let mut args = vec!["worktree", "remove"];
                if force {
                    args.push("--force");
                    if w.locked {
                        args.push("--force");
                    }
                }
                let mut args: Vec<&std::ffi::OsStr> =
                    args.into_iter().map(std::ffi::OsStr::new).collect();
                args.push(path.as_os_str());
                let out = git_cmd::run(root, args)?;
                if !out.ok() {
                    return Err(format!("cannot remove worktree `{rel}`: {}", out.reason()));
                }
            }
            None if force => {
                std::fs::remove_dir_all(&path)
                    .map_err(|e| format!("cannot remove `{rel}`: {e}"))?;
            }
            None => {
                return Err(format!(
                    "`{rel}` exists but git does not list it as a worktree; not removing it"
                ));
            }
        }
        removed = true;
    }
    git_cmd::ok(root, ["worktree", "prune"])?;
    Ok(removed)
}

/// What `jobs retry` / `cancel` did about one job's worktree or sentinel.
#[derive(Debug, Clone)]
pub struct Released {
    /// The node index in the run.
    pub index: usize,
    pub note: String,
    /// False when something could not be removed.
    pub ok: bool,
}

/// Removes the worktrees and merge sentinels that the jobs `set` (node indexes of run `m`) own,
/// except a worktree that a job outside the set still uses. Reads `m`; changes nothing in it.
pub fn release_owned(store: &Store, m: &Manifest, set: &[usize]) -> Vec<Released> {
    let mut out = Vec::new();
    let root = store
        .root
        .canonicalize()
        .unwrap_or_else(|_| store.root.clone());
    for &j in set {
        let node = &m.nodes[j];
        let mut paths: Vec<String> = Vec::new();
        if let Some(claim) = WorktreeClaim::read(store, &node.job_id)
            && claim.run_id == m.run_id
            && claim.job_id == node.job_id
        {
            paths.push(claim.path);
        }
        if node.metadata.get("worktree_job") == Some(&json!(node.job_id))
            && node.metadata.get("worktree_owned") == Some(&json!(true))
            && let Some(p) = node.metadata.get("worktree_path").and_then(Value::as_str)
            && !paths.iter().any(|q| q == p)
        {
            paths.push(p.to_owned());
        }
        for path in paths {
            let user = m.nodes.iter().enumerate().find(|(k, n)| {
                !set.contains(k)
                    && !n.status.is_terminal()
                    && [
                        n.metadata.get("execution_root"),
                        n.metadata.get("worktree_path"),
                    ]
                    .contains(&Some(&json!(path)))
            });
            let (note, ok) = if let Some((_, user)) = user {
                (
                    format!("kept worktree `{path}`: `{}` still uses it", user.job_id),
                    false,
                )
            } else {
                match remove_worktree(&root, &path, true) {
                    Ok(true) => {
                        WorktreeClaim::remove(store, &node.job_id);
                        (format!("removed worktree `{path}`"), true)
                    }
                    Ok(false) => {
                        WorktreeClaim::remove(store, &node.job_id);
                        continue;
                    }
                    Err(e) => (format!("could not remove worktree `{path}`: {e}"), false),
                }
            };
            out.push(Released { index: j, note, ok });
        }
        match merge_sentinel::for_run(&root, &m.run_id) {
            Ok(sentinels) => {
                for s in sentinels.iter().filter(|s| s.job_id == node.job_id) {
                    let (note, ok) = match merge_sentinel::clear(&root, &s.slug, &m.run_id) {
                        Ok(_) => (
                            format!(
                                "cleared merge sentinel `{}/{}.json`",
                                merge_sentinel::SENTINEL_DIR,
                                s.slug
                            ),
                            true,
                        ),
                        Err(e) => (e, false),
                    };
                    out.push(Released { index: j, note, ok });
                }
            }
            Err(e) => out.push(Released {
                index: j,
                note: e,
                ok: false,
            }),
        }
    }
    out
}
