//! `vizier jobs retry`: a person rewinds jobs. `<job_id>` rewinds that job and its downstream;
//! `<run_id>` rewinds every job of the run that ended badly (failed, blocked, blocked by a
//! dependency or an approval, cancelled) and their downstream, in one step.
//!
//! A person's retry is an explicit decision to run those jobs again, so the rewound jobs are
//! exempt from `failure_mode = block_downstream`: they run even while a failure outside their own
//! dependency chain still stands (a failed dependency of their own still blocks them).

use std::collections::BTreeSet;

use serde_json::json;

use crate::compile::Plan;
use crate::error::{Error, Result};
use crate::ops::{self, Released};
use crate::schedule;
use crate::store::{Manifest, Status, Store};

/// The jobs a retry of `targets` rewinds: each target and everything downstream of it.
pub fn rewind_set(plan: &Plan, targets: &[usize]) -> Vec<usize> {
    let mut set = BTreeSet::new();
    for &t in targets {
        set.extend(plan.downstream(t));
    }
    set.into_iter().collect()
}

/// The jobs of a run a run-level retry starts from: those that ended badly.
pub fn bad_jobs(m: &Manifest) -> Vec<usize> {
    m.nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.status.is_bad())
        .map(|(i, _)| i)
        .collect()
}

/// Rewinds `set` (node indexes of run `m`): refuses while any of them runs; otherwise re-queues
/// them for their next attempt, truncates their logs, removes their outcomes and the artifacts
/// they produced, and releases what they own. Returns what the release did.
pub fn rewind(
    store: &Store,
    plan: &Plan,
    m: &mut Manifest,
    set: &[usize],
) -> Result<Vec<Released>> {
    if let Some(&busy) = set.iter().find(|&&j| m.nodes[j].status == Status::Running) {
        return Err(Error::Usage(format!(
            "cannot retry: `{}` is still running (cancel it first)",
            m.nodes[busy].job_id
        )));
    }
    for &j in set {
        store.check_job_dir(&m.nodes[j].job_id)?;
    }
    let notes = ops::release_owned(store, m, set);
    let run_id = m.run_id.clone();
    for &j in set {
        let job_id = m.nodes[j].job_id.clone();
        let node = &mut m.nodes[j];
        schedule::requeue(node);
        node.person_retry = true;
        node.loops = 0;
        node.waited_on.clear();
        // The context is inherited again when the job starts; the worktree it named may be gone.
        node.metadata.retain(|k, _| !k.starts_with("worktree_"));
        node.metadata.insert("execution_root".into(), json!("."));
        for stream in ["stdout.log", "stderr.log"] {
            let path = store.job_dir(&job_id).join(stream);
            crate::store::guard::create_nofollow(&path, false)
                .map_err(|source| Error::Write { path, source })?;
        }
        let _ = std::fs::remove_file(store.outcome_path(&job_id));
        for art in &plan.nodes[j].produces {
            let _ = std::fs::remove_file(
                store
                    .artifact_marker_dir(&run_id, &art.type_id, &art.key)
                    .join(&job_id),
            );
            let _ = std::fs::remove_file(
                store
                    .artifact_data_dir(&run_id, &art.type_id, &art.key)
                    .join(format!("{job_id}.json")),
            );
        }
    }
    Ok(notes)
}
