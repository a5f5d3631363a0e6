//! `vizier ci collect`: every group's records merged into the one final manifest per run.
//!
//! The manifest is the one a single runner would have written for the same push: the run and job
//! ids, edges and log paths come from this checkout's compiled plan, the state of each node from its
//! group's report. A group that never reported (its runner job was cancelled) makes its nodes
//! `cancelled` with that reason. Each node's metadata also says which group and runner job ran it
//! (`ci_group`, `ci_runner`). The job records are rewritten from the plan and the final manifest;
//! logs, outcomes and the other files of each job are copied from its group's folder.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::records::{self, copy_job_files, folder_store};
use super::{FanoutPlan, reproduce};
use crate::ci::github::{self, Annotation};
use crate::compile::Plan;
use crate::error::Result;
use crate::schedule::run_outcome;
use crate::store::{self, Manifest, Store, to_json, to_json_compact, write_atomic};

/// One collected run.
pub struct Collected {
    pub manifest: Manifest,
    /// Where the manifest was written in the artifacts folder.
    pub path: PathBuf,
    /// Reports set aside and groups that never reported.
    pub warnings: Vec<String>,
}

/// Collects every planned run into `artifacts` (`runs/<run_id>.json`, `jobs/<job_id>/`).
pub fn collect(
    root: &Path,
    fanout: &FanoutPlan,
    compiled: Vec<(String, Plan)>,
    store_in: &[PathBuf],
    artifacts: &Path,
) -> Result<Vec<Collected>> {
    let mut compiled = compiled;
    let mut out = Vec::new();
    let now = store::now();
    let local = Store::new(root);
    let dest = folder_store(root, artifacts);
    for planned in &fanout.runs {
        let Some(pos) = compiled.iter().position(|(n, _)| *n == planned.template) else {
            return Err(crate::error::Error::Usage(format!(
                "the plan's template `{}` was not compiled here",
                planned.template
            )));
        };
        let (_, plan) = compiled.remove(pos);
        let (plan, grouping) = reproduce(planned, fanout.max_levels, plan)?;
        let (imported, mut warnings) =
            records::import_reports(root, store_in, &plan, &grouping, |_| true);
        let mut m = local.initial_manifest(&plan, &fanout.created_at);
        for (k, group) in grouping.groups.iter().enumerate() {
            match imported.get(&k) {
                Some(found) => {
                    m.requeues += found.report.requeues;
                    for (entry, &i) in found.report.nodes.iter().zip(&grouping.members[k]) {
                        records::apply(&mut m, i, entry);
                        m.nodes[i]
                            .metadata
                            .insert("ci_group".into(), json!(group.id));
                        if !found.report.runner.is_empty() {
                            m.nodes[i]
                                .metadata
                                .insert("ci_runner".into(), json!(found.report.runner));
                        }
                    }
                    let from = folder_store(root, &found.dir);
                    for &i in &grouping.members[k] {
                        let job_id = &plan.nodes[i].job_id;
                        copy_job_files(&from.job_dir(job_id), &dest.job_dir(job_id), false)?;
                    }
                }
                None => {
                    warnings.push(format!("group `{}` never reported", group.id));
                    for &i in &grouping.members[k] {
                        records::never_reported(&mut m, i, &group.id, &now);
                        m.nodes[i]
                            .metadata
                            .insert("ci_group".into(), json!(group.id));
                    }
                }
            }
        }
        m.outcome = Some(run_outcome(&plan, &m));
        m.finished_at = m
            .nodes
            .iter()
            .filter_map(|n| n.finished_at.clone())
            .max()
            .or(Some(now.clone()));
        let mut batch = store::Batch::default();
        for i in 0..plan.nodes.len() {
            let record = local.job_record(&plan, i, &m);
            batch.add(&dest.job_path(&plan.nodes[i].job_id), to_json(&record));
        }
        batch.commit()?;
        let path = artifacts.join("runs").join(format!("{}.json", plan.run_id));
        write_atomic(&path, &to_json_compact(&m))?;
        out.push(Collected {
            manifest: m,
            path,
            warnings,
        });
    }
    Ok(out)
}

/// The warnings of the collected runs, as annotations of the run they belong to.
pub fn warning_annotations(collected: &[Collected]) -> Vec<Annotation> {
    let mut warnings = Vec::new();
    for c in collected {
        for w in &c.warnings {
            warnings.push(Annotation::new(
                github::Level::Warning,
                github::rank::NODE_BLOCKED,
                Some("vizier: fan-out"),
                None,
                &format!("run {}: {w}", c.manifest.run_id),
            ));
        }
    }
    warnings
}
