//! Person-driven changes to a run: `vizier jobs retry`, `cancel`, `approve` and `reject`. Each one
//! changes records under the scheduler lock (through [`super::update_run`]) and returns what it did
//! as data; `cli/jobs.rs` renders it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::error::{Error, Result};
use crate::ops::{self, Released};
use crate::store::{Approval, ApprovalState, Manifest, Status, Store};

/// What `jobs retry` rewound.
#[derive(Debug)]
pub struct Retried {
    pub run_id: String,
    /// The id named a whole run (its badly ended jobs were rewound), not one job.
    pub whole_run: bool,
    /// How many jobs were rewound, downstream ones included.
    pub count: usize,
    /// What the clean-up of the rewound jobs' worktrees and sentinels did.
    pub cleanup: Vec<Released>,
}

/// Records what the clean-up of `jobs retry` / `cancel` did in each job's metadata (`cleanup`); the
/// caller tells the person, so a clean-up that could not finish is a warning, never silent.
fn record_cleanup(m: &mut Manifest, verb: &str, notes: &[Released]) {
    let mut by_node: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for n in notes {
        by_node.entry(n.index).or_default().push(&n.note);
    }
    for (i, list) in by_node {
        m.nodes[i].metadata.insert(
            "cleanup".into(),
            json!(format!("{verb}: {}", list.join("; "))),
        );
    }
}

/// Rewinds job `id` and everything downstream of it, or, for a run id, the run's jobs that ended
/// badly and their downstream; the run continues.
pub fn retry(store: &Store, id: &str) -> Result<Retried> {
    let whole_run = crate::store::ids::is_run_id(id);
    let (run_id, index) = if whole_run {
        (id.to_owned(), None)
    } else {
        let (run_id, index) = super::run_of_job(store, id)?;
        (run_id, Some(index))
    };
    let mut notes = Vec::new();
    let mut count = 0;
    super::update_run(store, &run_id, |plan, m| {
        let targets = match index {
            Some(i) => vec![i],
            None => super::retry::bad_jobs(m),
        };
        let rewound = super::retry::rewind_set(plan, &targets);
        notes = super::retry::rewind(store, plan, m, &rewound)?;
        count = rewound.len();
        record_cleanup(m, "jobs retry", &notes);
        Ok(rewound)
    })?;
    Ok(Retried {
        run_id,
        whole_run,
        count,
        cleanup: notes,
    })
}

/// Cancels job `id`: records it cancelled, stops its process group (and the claimant's, in case a
/// duplicate start won the claim), then removes what it owns. Returns what that clean-up did.
pub fn cancel(store: &Store, id: &str) -> Result<Vec<Released>> {
    let (run_id, index) = super::run_of_job(store, id)?;
    let mut process = None;
    let mut attempt = 0;
    super::update_run(store, &run_id, |_, m| {
        let node = &mut m.nodes[index];
        if node.status.is_terminal() {
            return Err(Error::Usage(format!(
                "`{id}` already ended ({})",
                node.status
            )));
        }
        process = node.process.clone();
        attempt = node.attempts;
        node.status = Status::Cancelled;
        node.outcome = None;
        node.reason = Some("cancelled by `vizier jobs cancel`".into());
        node.finished_at = Some(crate::store::now());
        node.process = None;
        Ok(vec![index])
    })?;
    if let Some(p) = process {
        // Stop the claimant too, in case a duplicate start won the claim.
        let attempt_owner = crate::process::claimant(store, id, attempt);
        crate::process::stop_group(&p, Duration::from_secs(3));
        if let Some(owner) = attempt_owner {
            crate::process::stop_group(&owner, Duration::from_secs(3));
        }
    }
    // Now that nothing of the job runs any more, remove what it owns.
    let mut notes = Vec::new();
    super::update_run(store, &run_id, |_, m| {
        notes = ops::release_owned(store, m, &[index]);
        record_cleanup(m, "jobs cancel", &notes);
        Ok(if notes.is_empty() {
            vec![]
        } else {
            vec![index]
        })
    })?;
    Ok(notes)
}

/// Approves (`reject` is `None`) or rejects job `id`'s approval gate. Returns the decision
/// recorded.
pub fn decide(store: &Store, id: &str, reject: Option<String>) -> Result<ApprovalState> {
    let (run_id, index) = super::run_of_job(store, id)?;
    let (plan, _) = super::load_run(store, &run_id)?;
    if !plan.nodes[index].approval_required() {
        return Err(Error::Usage(format!("`{id}` has no approval gate")));
    }
    let verb = if reject.is_some() {
        ApprovalState::Rejected
    } else {
        ApprovalState::Approved
    };
    super::update_run(store, &run_id, |_, m| {
        let node = &mut m.nodes[index];
        if node.status.is_terminal() || node.status == Status::Running {
            return Err(Error::Usage(format!(
                "`{id}` is not waiting for approval ({})",
                node.status
            )));
        }
        node.approval = Some(Approval {
            state: verb,
            reason: reject.clone(),
            at: crate::store::now(),
        });
        Ok(vec![index])
    })?;
    Ok(verb)
}

/// `jobs gc`: removes the oldest finished runs beyond `keep`; a run a live driver still holds is
/// kept (see [`crate::store::gc`]).
pub fn gc(store: &Store, keep: usize) -> Result<crate::store::gc::Collected> {
    crate::store::gc::collect(
        store,
        keep,
        |m| {
            m.driver
                .as_ref()
                .is_some_and(|d| crate::process::driver_alive(store, &m.run_id, d))
        },
        |run_id| crate::process::driver_lock_path(store, run_id),
    )
}
