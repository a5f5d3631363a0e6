//! What one group's runner leaves for the others, and how the others take it in.
//!
//! A group's artifacts folder holds, for each of its nodes, `jobs/<job_id>/` (the job record, logs,
//! outcome and any other files the job wrote), the markers and payloads of the artifacts it produced
//! under `jobs/artifacts/`, and the group report `groups/<group_id>.json`: the manifest entries of
//! its nodes as they ended.
//!
//! Those folders come from other machines, so everything in them is untrusted. A report is used only
//! when it names the planned run and group and exactly the group's jobs, every entry has ended, its
//! paths stay inside the repository, and each job's record reads back with the store's reader and
//! names the same job and run. Paths are always built from the locally compiled plan, never from a
//! record; only regular files are copied (never symlinks), and only names made of `[A-Za-z0-9_.-]`.
//! A report that fails any check is set aside with the reason, and its nodes count as never reported.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{GROUPS_DIR, Grouping};
use crate::compile::Plan;
use crate::error::{Error, Result};
use crate::store::{Manifest, ManifestNode, Status, Store, read_payload};

pub const REPORT_FORMAT: u32 = 1;

/// `groups/<group_id>.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupReport {
    pub version: u32,
    pub run_id: String,
    pub group: String,
    /// The CI job that ran the group (`GITHUB_JOB` and the runner's name, when known).
    pub runner: String,
    /// Loop-back re-queues taken inside the group.
    pub requeues: u32,
    pub nodes: Vec<ManifestNode>,
}

/// A report that passed every check, and the folder it came from.
pub struct Imported {
    pub report: GroupReport,
    pub dir: PathBuf,
}

/// The store-like view of an artifacts folder: its `jobs/` is laid out like `.vizier/jobs/`.
pub fn folder_store(root: &Path, dir: &Path) -> Store {
    Store {
        root: root.to_path_buf(),
        dir: dir.join("jobs"),
    }
}

/// Looks for the reports of the groups `wanted` says yes to; returns the good ones by group index
/// and a warning per report set aside.
pub fn import_reports(
    root: &Path,
    store_in: &[PathBuf],
    plan: &Plan,
    grouping: &Grouping,
    wanted: impl Fn(usize) -> bool,
) -> (BTreeMap<usize, Imported>, Vec<String>) {
    let mut good = BTreeMap::new();
    let mut warnings = Vec::new();
    for (g, group) in grouping.groups.iter().enumerate() {
        if !wanted(g) {
            continue;
        }
        for dir in store_in {
            let path = dir.join(GROUPS_DIR).join(format!("{}.json", group.id));
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => {}
                Ok(_) => {
                    warnings.push(format!("{}: not a regular file; set aside", path.display()));
                    continue;
                }
                Err(_) => continue,
            }
            match check_report(root, dir, &path, plan, grouping, g) {
                Ok(report) => {
                    good.insert(
                        g,
                        Imported {
                            report,
                            dir: dir.clone(),
                        },
                    );
                    break;
                }
                Err(why) => warnings.push(format!("{}: {why}; set aside", path.display())),
            }
        }
    }
    (good, warnings)
}

fn check_report(
    root: &Path,
    dir: &Path,
    path: &Path,
    plan: &Plan,
    grouping: &Grouping,
    g: usize,
) -> std::result::Result<GroupReport, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let report: GroupReport = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let group = &grouping.groups[g];
    if report.version != REPORT_FORMAT {
        return Err(format!(
            "report version {} is not {REPORT_FORMAT}",
            report.version
        ));
    }
    if report.run_id != plan.run_id || report.group != group.id {
        return Err(format!(
            "it reports group `{}` of run `{}`, not `{}`",
            report.group, report.run_id, group.id
        ));
    }
    let members = &grouping.members[g];
    if report.nodes.len() != members.len() {
        return Err(format!(
            "it has {} node(s); the group has {}",
            report.nodes.len(),
            members.len()
        ));
    }
    let records = folder_store(root, dir);
    for (entry, &i) in report.nodes.iter().zip(members) {
        let planned = &plan.nodes[i];
        if entry.job_id != planned.job_id || entry.node_id != planned.node_id {
            return Err(format!(
                "entry `{}` is not the group's job `{}`",
                entry.job_id, planned.job_id
            ));
        }
        if !entry.status.is_terminal() {
            return Err(format!(
                "`{}` has not ended ({})",
                entry.job_id, entry.status
            ));
        }
        if entry.attempts == 0 {
            return Err(format!("`{}` has attempt 0", entry.job_id));
        }
        for key in ["execution_root", "worktree_path"] {
            if let Some(v) = entry.metadata.get(key) {
                let ok = v.as_str().is_some_and(relative_inside);
                if !ok {
                    return Err(format!(
                        "`{}`: metadata `{key}` {v} is not a path inside the repository",
                        entry.job_id
                    ));
                }
            }
        }
        let record = records
            .read_job(&planned.job_id)
            .map_err(|e| error_text(&e))?;
        let run = record
            .metadata
            .get("workflow_run_id")
            .and_then(Value::as_str);
        if record.job_id != planned.job_id || run != Some(plan.run_id.as_str()) {
            return Err(format!(
                "the record of `{}` names job `{}` of run `{}`",
                planned.job_id,
                record.job_id,
                run.unwrap_or("?")
            ));
        }
    }
    Ok(report)
}

fn error_text(e: &Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// A relative path without `..`, root or prefix components (checked by its text: the worktree it
/// names lives on another machine).
fn relative_inside(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Puts a reported entry into the manifest: the state comes from the report, the identity (ids,
/// edges, log paths) from the local plan's entry.
pub fn apply(m: &mut Manifest, i: usize, entry: &ManifestNode) {
    let node = &mut m.nodes[i];
    node.status = entry.status;
    node.outcome = entry.outcome;
    node.attempts = entry.attempts;
    node.exit_code = entry.exit_code;
    node.started_at = entry.started_at.clone();
    node.finished_at = entry.finished_at.clone();
    node.reason = entry.reason.clone();
    node.approval = entry.approval.clone();
    node.loops = entry.loops;
    node.waited_on = entry.waited_on.clone();
    node.wait_reason = None;
    node.process = None;
    node.metadata = entry.metadata.clone();
}

/// Marks a node of a group that never reported.
pub fn never_reported(m: &mut Manifest, i: usize, group_id: &str, now: &str) {
    let node = &mut m.nodes[i];
    node.status = Status::Cancelled;
    node.outcome = None;
    node.process = None;
    node.wait_reason = None;
    node.finished_at = Some(now.to_owned());
    node.reason = Some(format!(
        "group `{group_id}` never reported: its runner job was cancelled or stopped before uploading its records"
    ));
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Copies the regular files of a job folder (not claims; not `job.json` unless `with_record`).
pub fn copy_job_files(from: &Path, to: &Path, with_record: bool) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    std::fs::create_dir_all(to).map_err(|source| Error::Write {
        path: to.to_path_buf(),
        source,
    })?;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !plain_name(&name)
            || name.starts_with("claim-")
            || (!with_record && name == "job.json")
            || !entry.file_type().is_ok_and(|t| t.is_file())
        {
            continue;
        }
        let dest = to.join(&name);
        std::fs::copy(entry.path(), &dest).map_err(|source| Error::Write { path: dest, source })?;
    }
    Ok(())
}

/// Copies the artifact markers and payloads that job `i` of `plan` produced from one store to
/// another; payloads are read back with the store's reader and must name their artifact.
pub fn copy_artifacts(from: &Store, to: &Store, plan: &Plan, i: usize) -> Result<()> {
    let node = &plan.nodes[i];
    for a in &node.produces {
        let marker = from
            .artifact_marker_dir(&plan.run_id, &a.type_id, &a.key)
            .join(&node.job_id);
        if std::fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file()) {
            let dir = to.artifact_marker_dir(&plan.run_id, &a.type_id, &a.key);
            std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            let dest = dir.join(&node.job_id);
            std::fs::File::create(&dest).map_err(|source| Error::Write { path: dest, source })?;
        }
        let payload = from.payload_path(&plan.run_id, &a.type_id, &a.key, &node.job_id);
        if std::fs::symlink_metadata(&payload).is_ok_and(|m| m.is_file()) {
            let p = read_payload(&payload)?;
            if p.type_id != a.type_id || p.key != a.key {
                return Err(Error::Corrupt {
                    path: payload.display().to_string(),
                    message: format!(
                        "the payload is for `{}:{}`, not `{}:{}`",
                        p.type_id, p.key, a.type_id, a.key
                    ),
                });
            }
            to.write_payload(&plan.run_id, &node.job_id, &p)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        assert!(relative_inside("."));
        assert!(relative_inside(".vizier/tmp-worktrees/a"));
        assert!(!relative_inside("../x"));
        assert!(!relative_inside("/etc"));
        assert!(!relative_inside("a/../../b"));
        assert!(!relative_inside(""));
    }

    #[test]
    fn file_names_are_plain() {
        assert!(plain_name("stdout.log"));
        assert!(!plain_name(".swap"));
        assert!(!plain_name("a b"));
        assert!(!plain_name(""));
    }
}
