//! What the git operations read about their run and their repository: the repository root, the
//! node's own manifest entry (its inherited worktree context), the nearest upstream node of an
//! operation, args checked as names or booleans, and the worktree ownership claim a job writes
//! before it creates a worktree.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OpContext;
use crate::store::{Manifest, Store, to_json, write_atomic};

/// Where job-owned worktrees live, relative to the repository root.
pub const WORKTREES_DIR: &str = ".vizier/tmp-worktrees";

impl OpContext<'_> {
    pub fn job_id(&self) -> &str {
        &self.node.job_id
    }

    /// The repository root, resolved (the execution root is resolved too, so they compare).
    pub fn repo_root(&self) -> PathBuf {
        self.store
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.store.root.clone())
    }

    /// A path inside the repository, relative to its root with `/` separators (`.` for the root).
    pub fn repo_relative(&self, path: &Path) -> String {
        let root = self.repo_root();
        match path.strip_prefix(&root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => path.display().to_string(),
        }
    }

    /// The run's manifest as it is now — with this node's inherited context — read under the
    /// scheduler lock, so the tick that started this job has finished writing it.
    pub fn manifest_now(&self) -> Result<Manifest, String> {
        let _lock = self.store.lock().map_err(|e| e.to_string())?;
        self.store
            .load_manifest(&self.spec.run_id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("run `{}` has no manifest", self.spec.run_id))
    }

    /// The job id of the nearest node upstream of this one (through any dependency) that runs
    /// `operation`, if the run has one.
    pub fn nearest_upstream(&self, operation: &str) -> Result<Option<String>, String> {
        let plan = self
            .store
            .load_plan(&self.spec.run_id)
            .map_err(|e| e.to_string())?;
        let Some(start) = plan.nodes.iter().position(|n| n.job_id == self.node.job_id) else {
            return Ok(None);
        };
        let mut seen = vec![false; plan.nodes.len()];
        let mut queue: VecDeque<usize> = plan.nodes[start].deps.iter().map(|d| d.node).collect();
        while let Some(i) = queue.pop_front() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let node = &plan.nodes[i];
            if node.executor_operation.as_deref() == Some(operation) {
                return Ok(Some(node.job_id.clone()));
            }
            queue.extend(node.deps.iter().map(|d| d.node));
        }
        Ok(None)
    }

    /// A required arg, or the failure naming it (required args left empty by `${}`
    /// substitution fail the node at run time).
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.arg(name).ok_or_else(|| {
            format!(
                "`{}` needs `args.{name}`, which is empty after param substitution",
                self.node
                    .executor_operation
                    .as_deref()
                    .or(self.node.control_policy.as_deref())
                    .unwrap_or(&self.node.uses)
            )
        })
    }

    /// A boolean arg: `true` or `false`, or `default` when it is not set.
    pub fn bool_arg(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.arg(name).map(str::trim) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(format!(
                "`args.{name}` must be `true` or `false`, got `{other}`"
            )),
        }
    }
}

/// Checks a value that becomes one file or folder name (a slug, a build id, a step key): letters,
/// digits, `.`, `_` and `-`, not starting with `.`, so it can never name a path elsewhere.
pub fn safe_name<'v>(what: &str, value: &'v str) -> Result<&'v str, String> {
    let ok = !value.is_empty()
        && !value.starts_with('.')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(value)
    } else {
        Err(format!(
            "`{what}` `{value}` is not a safe name: use letters, digits, `.`, `_` and `-`, \
             with no path separators, no `..` and no leading `.`"
        ))
    }
}

/// Writes a file of a work tree (a plan document, a build record), making its folder first.
/// `rel` names it in messages.
pub fn write_file(path: &Path, rel: &str, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create the folder of `{rel}`: {e}"))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write `{rel}`: {e}"))
}

/// The slug of a branch when none is given: its last path part (`draft/add-login` → `add-login`).
pub fn slug_of_branch(branch: &str) -> String {
    branch.rsplit('/').next().unwrap_or(branch).to_owned()
}

/// A job's record that it is creating (or created) a worktree, written before `git worktree add`
/// so that no crash or cancel between creating the worktree and recording the outcome can leave a
/// worktree nobody owns: `.vizier/jobs/<job_id>/worktree.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorktreeClaim {
    pub version: u32,
    pub run_id: String,
    pub job_id: String,
    /// Relative to the repository root: `.vizier/tmp-worktrees/<name>`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    pub created_at: String,
}

fn claim_path(store: &Store, job_id: &str) -> PathBuf {
    store.job_dir(job_id).join("worktree.json")
}

impl WorktreeClaim {
    pub fn new(ctx: &OpContext<'_>, path: &str, branch: Option<&str>) -> WorktreeClaim {
        WorktreeClaim {
            version: 1,
            run_id: ctx.spec.run_id.clone(),
            job_id: ctx.node.job_id.clone(),
            path: path.to_owned(),
            branch: branch.map(str::to_owned),
            created_at: crate::store::now(),
        }
    }

    pub fn write(&self, store: &Store) -> Result<(), String> {
        write_atomic(&claim_path(store, &self.job_id), &to_json(self))
            .map_err(|e| format!("cannot record the worktree claim of `{}`: {e}", self.job_id))
    }

    pub fn read(store: &Store, job_id: &str) -> Option<WorktreeClaim> {
        let bytes = crate::store::guard::read_regular(&claim_path(store, job_id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn remove(store: &Store, job_id: &str) {
        let path = claim_path(store, job_id);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_file_name(".worktree.json.swap"));
    }
}

/// Whether a repository-relative path names a job worktree folder: `.vizier/tmp-worktrees/<name>`
/// with one safe name and nothing else.
pub fn is_worktree_path(rel: &str) -> bool {
    rel.strip_prefix(WORKTREES_DIR)
        .and_then(|r| r.strip_prefix('/'))
        .is_some_and(|name| safe_name("worktree", name).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_refuse_paths() {
        assert!(safe_name("slug", "add-login_2.v1").is_ok());
        for bad in ["", "a/b", "..", "../x", ".hidden", "a\\b", "a b", "é"] {
            assert!(safe_name("slug", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn worktree_paths_are_one_folder_under_tmp_worktrees() {
        assert!(is_worktree_path(
            ".vizier/tmp-worktrees/draft-run-1-prepare"
        ));
        assert!(!is_worktree_path(".vizier/tmp-worktrees"));
        assert!(!is_worktree_path(".vizier/tmp-worktrees/a/b"));
        assert!(!is_worktree_path(".vizier/tmp-worktrees/.."));
        assert!(!is_worktree_path("src"));
        assert_eq!(slug_of_branch("draft/add-login"), "add-login");
    }
}
