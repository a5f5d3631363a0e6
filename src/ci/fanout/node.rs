//! `vizier ci node --group ID`: one group of a planned run on this runner.
//!
//! It materializes the planned run in this checkout's job store (the planned sequence number,
//! checked against the planned run id — never the next free one), with the nodes of every earlier
//! level set to what their groups reported (or `cancelled` when a group never reported), copies in
//! those nodes' files and payloads, then drives only its own group's nodes: the scheduler decides
//! skipped, `blocked_by_dependency` and handlers from the imported outcomes exactly as on one
//! runner. Its own records, logs, payloads and report go to the artifacts folder for upload.

use std::path::{Path, PathBuf};

use super::records::{
    self, GroupReport, REPORT_FORMAT, copy_artifacts, copy_job_files, folder_store,
};
use super::{FanoutPlan, GROUPS_DIR, Group, reproduce};
use crate::compile::Plan;
use crate::error::{Error, Result};
use crate::runner;
use crate::store::{self, Manifest, Status, Store, to_json, write_atomic};

/// What running a group did.
pub struct GroupRun {
    pub plan: Plan,
    pub group: Group,
    /// Plan node indexes of the group.
    pub members: Vec<usize>,
    /// The run as this runner ended it (other groups' later nodes untouched).
    pub manifest: Manifest,
    /// Upstream reports set aside, and groups that never reported.
    pub warnings: Vec<String>,
    /// Every node of the group succeeded or was skipped.
    pub ok: bool,
}

/// Runs group `group_id` of `fanout`. `compiled` are this checkout's compiled templates (by the name
/// they were planned under).
pub fn run_group(
    store: &Store,
    fanout: &FanoutPlan,
    group_id: &str,
    compiled: Vec<(String, Plan)>,
    store_in: &[PathBuf],
    artifacts: &Path,
    runner_name: &str,
) -> Result<GroupRun> {
    let (planned, _) = fanout.group(group_id).ok_or_else(|| {
        let known: Vec<&str> = fanout
            .runs
            .iter()
            .flat_map(|r| r.groups.iter().map(|g| g.id.as_str()))
            .collect();
        Error::Usage(format!(
            "no group `{group_id}` in the fan-out plan; it has: {}",
            if known.is_empty() {
                "(none)".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })?;
    let plan = compiled
        .into_iter()
        .find(|(name, _)| *name == planned.template)
        .map(|(_, p)| p)
        .ok_or_else(|| {
            Error::Usage(format!(
                "the plan's template `{}` was not compiled here",
                planned.template
            ))
        })?;
    let (plan, grouping) = reproduce(planned, fanout.max_levels, plan)?;
    let g = grouping
        .index_of(group_id)
        .expect("the reproduced grouping has the planned group");
    let level = grouping.groups[g].level;
    let earlier = |k: usize| grouping.groups[k].level < level;
    let (imported, mut warnings) =
        records::import_reports(&store.root, store_in, &plan, &grouping, earlier);

    let now = store::now();
    {
        let _lock = store.lock()?;
        if store.manifest_path(&plan.run_id).exists() || store.plan_path(&plan.run_id).exists() {
            return Err(Error::Usage(format!(
                "run {} is already in this job store ({}); run each group in a fresh checkout",
                plan.run_id,
                store.dir.display()
            )));
        }
        let mut m = store.initial_manifest(&plan, &fanout.created_at);
        for (k, group) in grouping.groups.iter().enumerate() {
            if !earlier(k) {
                continue;
            }
            match imported.get(&k) {
                Some(found) => {
                    for (entry, &i) in found.report.nodes.iter().zip(&grouping.members[k]) {
                        records::apply(&mut m, i, entry);
                    }
                }
                None => {
                    warnings.push(format!("group `{}` never reported", group.id));
                    for &i in &grouping.members[k] {
                        records::never_reported(&mut m, i, &group.id, &now);
                    }
                }
            }
        }
        m.driver = Some(crate::process::process_id(std::process::id()));
        store.materialize(&plan, &m)?;
    }
    for (k, found) in &imported {
        let from = folder_store(&store.root, &found.dir);
        for (entry, &i) in found.report.nodes.iter().zip(&grouping.members[*k]) {
            let job_id = &plan.nodes[i].job_id;
            copy_job_files(&from.job_dir(job_id), &store.job_dir(job_id), false)?;
            // Outputs it brought reach this runner's nodes through the run's outputs index.
            crate::outputs::note_copied(store, job_id)?;
            if entry.status == Status::Succeeded {
                copy_artifacts(&from, store, &plan, i)?;
            }
        }
    }

    let members = grouping.members[g].clone();
    let mut only = vec![false; plan.nodes.len()];
    for &i in &members {
        only[i] = true;
    }
    let manifest = runner::drive_part(store, &plan.run_id, &only, &mut |_| {})?;
    // The rest of the run belongs to other runners: nothing here may pick it up.
    store.set_active(&plan.run_id, false)?;

    // Export the group's records for upload.
    let out = folder_store(&store.root, artifacts);
    for &i in &members {
        let job_id = &plan.nodes[i].job_id;
        copy_job_files(&store.job_dir(job_id), &out.job_dir(job_id), true)?;
        copy_artifacts(store, &out, &plan, i)?;
    }
    let report = GroupReport {
        version: REPORT_FORMAT,
        run_id: plan.run_id.clone(),
        group: group_id.to_owned(),
        runner: runner_name.to_owned(),
        requeues: manifest.requeues,
        nodes: members.iter().map(|&i| manifest.nodes[i].clone()).collect(),
    };
    write_atomic(
        &artifacts.join(GROUPS_DIR).join(format!("{group_id}.json")),
        &to_json(&report),
    )?;
    let ok = members.iter().all(|&i| {
        matches!(
            manifest.nodes[i].status,
            Status::Succeeded | Status::Skipped
        )
    });
    Ok(GroupRun {
        group: grouping.groups[g].clone(),
        plan,
        members,
        manifest,
        warnings,
        ok,
    })
}
