//! The end of a CI job: annotations for the nodes that did not succeed, `annotations.txt`, the step
//! summary (artifacts folder and runner) and the step outputs. Shared by `vizier ci` and `vizier ci
//! collect`, so one runner and many end with the same record. Returns the annotation commands for
//! the caller to print; prints nothing itself.

use std::path::{Path, PathBuf};

use super::CiOutcome;
use super::github::{self, Annotation, Limited, Location, Outputs, Runner, limit};
use super::summary::Summary;
use crate::error::{Error, Result};
use crate::store::{Manifest, Store};

/// An annotation per node that ended badly, at its template file.
pub fn node_annotations(finished: &[Manifest]) -> Vec<Annotation> {
    let mut annotations = Vec::new();
    for m in finished {
        let template_path = m
            .template
            .as_ref()
            .map(|t| t.path.clone())
            .unwrap_or_default();
        for n in m.nodes.iter().filter(|n| n.status.is_bad()) {
            annotations.push(Annotation::node_outcome(
                &m.run_id,
                &n.node_id,
                n.status,
                n.exit_code.map(i64::from),
                Some(&Location {
                    file: template_path.clone(),
                    line: None,
                    column: None,
                }),
            ));
        }
    }
    annotations
}

/// Limits the annotations to what GitHub shows and writes all of them, most important first, to
/// `annotations.txt`.
pub fn annotate(artifacts: &Path, annotations: Vec<Annotation>) -> Result<Limited> {
    let limited = limit(annotations);
    let mut all: Vec<&Annotation> = limited.shown.iter().chain(&limited.overflow).collect();
    all.sort_by_key(|a| a.rank);
    write_file(
        &artifacts.join("annotations.txt"),
        &lines(all.iter().map(|a| a.text.as_str())),
    )?;
    Ok(limited)
}

/// How a push ended, for the caller to render.
pub struct Concluded {
    /// The annotations GitHub shows (print `limited.commands()` on a runner).
    pub limited_commands: String,
    /// Some run did not succeed.
    pub failed: bool,
}

/// Annotations, summary and outputs for finished runs whose manifests are already in the artifacts
/// folder (`manifests[i]` is where `finished[i]` was written).
pub fn conclude(
    gh: &Runner,
    artifacts: &Path,
    finished: &[Manifest],
    manifests: &[PathBuf],
    warnings: Vec<Annotation>,
    notes: Vec<String>,
    mut outputs: Outputs,
) -> Result<Concluded> {
    let mut annotations = warnings;
    annotations.extend(node_annotations(finished));
    let limited = annotate(artifacts, annotations)?;
    let mut views = Vec::new();
    for path in manifests {
        views.push(Manifest::load(path)?);
    }
    let outcome = CiOutcome::of_runs(finished.iter().map(|m| m.outcome));
    let failed = outcome == CiOutcome::Failed;
    let limited_commands = limited.commands();
    let summary = Summary {
        runs: views,
        overflow: limited.overflow,
        notes,
    };
    let run_ids: Vec<String> = finished.iter().map(|m| m.run_id.clone()).collect();
    outputs.set("run-ids", run_ids.join("\n"))?;
    outputs.set(
        "manifest",
        manifests
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )?;
    finish(gh, artifacts, &summary, outputs, &run_ids, outcome)?;
    Ok(Concluded {
        limited_commands,
        failed,
    })
}

pub fn lines<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::new();
    for item in items {
        s.push_str(item);
        s.push('\n');
    }
    s
}

pub fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the summary (to the artifacts and the runner) and the step outputs.
pub fn finish(
    gh: &Runner,
    artifacts: &Path,
    summary: &Summary,
    mut outputs: Outputs,
    run_ids: &[String],
    outcome: CiOutcome,
) -> Result<()> {
    let markdown = summary.render();
    write_file(&artifacts.join("summary.md"), &markdown)?;
    if let Some(path) = &gh.step_summary {
        github::append_summary(path, &markdown)?;
    }
    if outputs.get("run-ids").is_none() {
        outputs.set("run-ids", run_ids.join("\n"))?;
    }
    if outputs.get("manifest").is_none() {
        outputs.set("manifest", "")?;
    }
    outputs.set("outcome", outcome.as_str())?;
    if let Some(path) = &gh.output {
        outputs.append_to(path)?;
    }
    Ok(())
}

/// A job's stdout then stderr log, as far as they can be read.
pub fn node_log(store: &crate::store::Store, job_id: &str) -> String {
    let mut log = String::new();
    for stream in ["stdout.log", "stderr.log"] {
        // A record is read only as a regular file (never blocking on a FIFO in its place).
        if let Ok(bytes) = crate::store::guard::read_regular(&store.job_dir(job_id).join(stream)) {
            log.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    log
}

/// Copies a run's manifest and job records and logs into the artifacts folder; returns the
/// manifest's path there.
pub fn copy_run(store: &Store, m: &Manifest, artifacts: &Path) -> Result<PathBuf> {
    let runs = artifacts.join("runs");
    std::fs::create_dir_all(&runs).map_err(|source| Error::Write {
        path: runs.clone(),
        source,
    })?;
    let manifest = runs.join(format!("{}.json", m.run_id));
    copy(&store.manifest_path(&m.run_id), &manifest)?;
    for n in &m.nodes {
        let dest = artifacts.join("jobs").join(&n.job_id);
        std::fs::create_dir_all(&dest).map_err(|source| Error::Write {
            path: dest.clone(),
            source,
        })?;
        for file in ["job.json", "stdout.log", "stderr.log", "outcome.json"] {
            let from = store.job_dir(&n.job_id).join(file);
            // Regular files only: a FIFO or a link in a job folder is never read or followed.
            if std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_file()) {
                copy(&from, &dest.join(file))?;
            }
        }
        // Node outputs and an agent's raw stream travel with the records (docs/agents.md).
        for file in ["outputs.json", "agent-stream.jsonl"] {
            let from = store.job_dir(&n.job_id).join(file);
            // Regular files only: a FIFO or a link in a job folder is never read or followed.
            if std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_file()) {
                copy(&from, &dest.join(file))?;
            }
        }
    }
    Ok(manifest)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|source| Error::Write {
            path: to.to_path_buf(),
            source,
        })
}
