//! The merge sentinel `.vizier/tmp/merge-conflicts/<slug>.json`: a merge of `<slug>` stopped on
//! conflicts and waits for resolution. `git.integrate_plan_branch` writes it on conflicts, the
//! `gate.conflict_resolution` reads and clears it, and `merge.sentinel.write` / `.clear` (builtin)
//! write and remove it directly.
//!
//! A sentinel belongs to the run that wrote it (`run_id`, `job_id` inside): a run only ever reads
//! or clears its own, and a write never replaces the sentinel of another run that is still active —
//! two runs never read each other's sentinel.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::context::safe_name;
use super::{OpContext, OpResult};
use crate::store::{Store, to_json, write_atomic};
use crate::workspace::resolve_inside;

pub const SENTINEL_DIR: &str = ".vizier/tmp/merge-conflicts";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Sentinel {
    pub version: u32,
    pub run_id: String,
    /// The job that wrote it (the integrate node, or a `merge.sentinel.write` node).
    pub job_id: String,
    pub slug: String,
    pub branch: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_branch: Option<String>,
    /// `squash` or `no-ff`, when a merge is in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where the conflicted merge waits, relative to the repository root (`.` or a worktree).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
    /// The worktree is a temporary one the integrate job made (the target was not checked out).
    pub temporary: bool,
    /// The target's commit when the merge started: the resolution moves the ref from there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_before: Option<String>,
    pub conflicts: Vec<String>,
    pub written_at: String,
}

fn dir(root: &Path) -> Result<PathBuf, String> {
    resolve_inside(root, SENTINEL_DIR).map_err(|e| e.to_string())
}

fn file(root: &Path, slug: &str) -> Result<PathBuf, String> {
    Ok(dir(root)?.join(format!("{}.json", safe_name("slug", slug)?)))
}

/// The sentinel of a slug, whoever wrote it.
pub fn read(root: &Path, slug: &str) -> Result<Option<Sentinel>, String> {
    let path = file(root, slug)?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            format!("the merge sentinel `{SENTINEL_DIR}/{slug}.json` is corrupt: {e}")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "cannot read the merge sentinel `{SENTINEL_DIR}/{slug}.json`: {e}"
        )),
    }
}

/// Every sentinel of one run, by slug.
pub fn for_run(root: &Path, run_id: &str) -> Result<Vec<Sentinel>, String> {
    let Ok(entries) = std::fs::read_dir(dir(root)?) else {
        return Ok(Vec::new());
    };
    let mut slugs: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    slugs.sort();
    let mut out = Vec::new();
    for slug in slugs {
        if let Some(s) = read(root, &slug)?
            && s.run_id == run_id
        {
            out.push(s);
        }
    }
    Ok(out)
}

/// Writes a sentinel for its run; refuses to replace the sentinel of another run that is active.
pub fn write(store: &Store, root: &Path, sentinel: &Sentinel) -> Result<String, String> {
    if let Some(existing) = read(root, &sentinel.slug)?
        && existing.run_id != sentinel.run_id
    {
        let active = store.active_runs().map_err(|e| e.to_string())?;
        if active.contains(&existing.run_id) {
            return Err(format!(
                "`{SENTINEL_DIR}/{}.json` belongs to run `{}`, which is still active; two runs cannot hold conflicts of the same slug at once",
                sentinel.slug, existing.run_id
            ));
        }
    }
    let path = file(root, &sentinel.slug)?;
    write_atomic(&path, &to_json(sentinel)).map_err(|e| format!("{e}"))?;
    Ok(format!("{SENTINEL_DIR}/{}.json", sentinel.slug))
}

/// What clearing found.
#[derive(Debug, PartialEq, Eq)]
pub enum Cleared {
    Removed,
    NotThere,
    /// Another run's sentinel, left alone.
    OtherRun(String),
}

/// Removes the sentinel of a slug if it belongs to `run_id`.
pub fn clear(root: &Path, slug: &str, run_id: &str) -> Result<Cleared, String> {
    let Some(existing) = read(root, slug)? else {
        return Ok(Cleared::NotThere);
    };
    if existing.run_id != run_id {
        return Ok(Cleared::OtherRun(existing.run_id));
    }
    let path = file(root, slug)?;
    std::fs::remove_file(&path)
        .map_err(|e| format!("cannot remove `{SENTINEL_DIR}/{slug}.json`: {e}"))?;
    let _ = std::fs::remove_file(path.with_file_name(format!(".{slug}.json.swap")));
    Ok(Cleared::Removed)
}

/// `merge.sentinel.write`: marks a merge of `slug` as waiting for conflict resolution.
pub fn run_write(ctx: &OpContext<'_>) -> OpResult {
    let go = || -> Result<OpResult, String> {
        let slug = safe_name("slug", ctx.required("slug")?)?;
        let branch = ctx.required("branch")?;
        let sentinel = Sentinel {
            version: 1,
            run_id: ctx.spec.run_id.clone(),
            job_id: ctx.job_id().to_owned(),
            slug: slug.to_owned(),
            branch: branch.to_owned(),
            target_branch: ctx.arg("target_branch").map(str::to_owned),
            written_at: crate::store::now(),
            ..Sentinel::default()
        };
        let rel = write(ctx.store, &ctx.repo_root(), &sentinel)?;
        let mut result = OpResult::succeeded();
        result.metadata.insert("merge_sentinel".into(), json!(rel));
        Ok(result)
    };
    go().unwrap_or_else(OpResult::failed)
}

/// `merge.sentinel.clear`: removes this run's sentinel of `slug` (another run's is left alone).
pub fn run_clear(ctx: &OpContext<'_>) -> OpResult {
    let go = || -> Result<OpResult, String> {
        let slug = safe_name("slug", ctx.required("slug")?)?;
        let cleared = clear(&ctx.repo_root(), slug, &ctx.spec.run_id)?;
        let mut result = OpResult::succeeded();
        let note = match cleared {
            Cleared::Removed => "removed".to_owned(),
            Cleared::NotThere => "none".to_owned(),
            Cleared::OtherRun(run) => format!("left alone: it belongs to run `{run}`"),
        };
        result.metadata.insert(
            "merge_sentinel".into(),
            json!(format!("{SENTINEL_DIR}/{slug}.json")),
        );
        result
            .metadata
            .insert("merge_sentinel_cleared".into(), json!(note));
        Ok(result)
    };
    go().unwrap_or_else(OpResult::failed)
}
