//! Scheduling decisions, pure over a plan and its manifest.
//!
//! A tick looks at each unfinished job in declaration order and either finishes it (its process left
//! an outcome, or vanished), or walks the gate order — `after` dependencies → artifacts →
//! preconditions → approval → locks → start — recording why it waits. Everything outside the
//! manifest (processes, files, git) is asked through [`Probe`], so tests can drive it with a fake
//! world and an injected clock.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::compile::{DepOn, Plan, PlanArtifact, PlanPrecondition};
use crate::store::{
    ApprovalState, Manifest, ManifestNode, OutcomeFile, ProcessId, RunOutcome, Status, WaitReason,
};
use crate::template::{FailureMode, LockMode, Outcome};

pub mod wake;
use wake::Worklist;
pub use wake::{Dependents, Wake, initial_waits};

/// What the scheduler needs to know about the world.
pub trait Probe {
    /// The outcome the job's process recorded for this attempt, if it finished.
    fn outcome(&self, job_id: &str, attempt: u32) -> Option<OutcomeFile>;
    /// Whether the job's process for this attempt still lives.
    fn alive(&self, job_id: &str, attempt: u32, recorded: Option<&ProcessId>) -> bool;
    fn artifact_exists(&self, run_id: &str, artifact: &PlanArtifact) -> bool;
    /// `Err(why)` when the precondition does not hold in that execution root.
    fn precondition(&self, pre: &PlanPrecondition, execution_root: &str) -> Result<(), String>;
    /// How another run stands, for `vizier run --after`.
    fn run_outcome(&self, _run_id: &str) -> OtherRun {
        OtherRun::Missing
    }
    /// The end of this attempt as the job's record tells it, for a job whose process is gone
    /// without a readable outcome: a foreground driver's jobs leave their outcome unsynced, and
    /// the record the driver wrote from it (synced) may be all a crash of the machine left.
    fn recorded_outcome(&self, _job_id: &str, _attempt: u32) -> Option<OutcomeFile> {
        None
    }
}

/// How a run named by `vizier run --after` stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OtherRun {
    Running,
    Ended(RunOutcome),
    /// No such run.
    Missing,
    /// Its manifest does not read (why): not a success, so the wait ends blocked, naming it.
    Unreadable(String),
}

/// Locks held by running jobs across every active run.
#[derive(Clone, Debug, Default)]
pub struct LockTable {
    /// (key, mode, holding job, the run when the lock is held for the whole run).
    held: Vec<(String, LockMode, String, Option<String>)>,
}

impl LockTable {
    pub fn add(&mut self, key: &str, mode: LockMode, job_id: &str) {
        self.held
            .push((key.to_owned(), mode, job_id.to_owned(), None));
    }

    /// A `scope = "run"` lock, held by `run_id` (first taken by `job_id`) until the run ends.
    /// The other nodes of that run do not conflict with it.
    pub fn add_for_run(&mut self, key: &str, mode: LockMode, job_id: &str, run_id: &str) {
        if !self
            .held
            .iter()
            .any(|(k, _, _, r)| k == key && r.as_deref() == Some(run_id))
        {
            self.held.push((
                key.to_owned(),
                mode,
                job_id.to_owned(),
                Some(run_id.to_owned()),
            ));
        }
    }

    pub fn release(&mut self, job_id: &str) {
        self.held.retain(|(_, _, j, r)| j != job_id || r.is_some());
    }

    /// The job holding a lock that conflicts with `key`/`mode` for a job of `run_id`, if any: its
    /// own run's run-wide locks do not conflict.
    pub fn conflict_in(
        &self,
        key: &str,
        mode: LockMode,
        job_id: &str,
        run_id: &str,
    ) -> Option<&str> {
        self.held
            .iter()
            .find(|(k, m, j, r)| {
                k == key
                    && j != job_id
                    && r.as_deref() != Some(run_id)
                    && (*m == LockMode::Exclusive || mode == LockMode::Exclusive)
            })
            .map(|(_, _, j, _)| j.as_str())
    }
}

/// A change worth telling the person running vizier about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Started(usize),
    Finished(usize),
    Requeued(usize),
    Waiting(usize),
    RunFinished,
}

#[derive(Debug, Default)]
pub struct TickOutput {
    /// Nodes whose state changed: their job records must be rewritten.
    pub changed: BTreeSet<usize>,
    /// Nodes to start now, in order.
    pub start: Vec<usize>,
    /// Nodes re-queued by a loop-back (their claims and outcomes of older attempts are stale).
    pub requeued: Vec<usize>,
    /// Jobs found vanished (no outcome, process gone), with the attempt and the process recorded
    /// for it: whatever is left of their process groups must be stopped.
    pub vanished: Vec<(usize, u32, Option<ProcessId>)>,
    pub events: Vec<Event>,
}

enum Decision {
    Wait(Status, WaitReason),
    End(Status, String),
    Start,
}

fn reason(kind: &str, detail: impl Into<String>) -> WaitReason {
    WaitReason {
        kind: kind.to_owned(),
        detail: detail.into(),
    }
}

/// One pass of the scheduler over a run. `may_start` is false for a process that must not start
/// this run's jobs (another live process drives it). The runner calls [`tick_only`]; the tests here
/// drive whole runs through this.
#[cfg(test)]
pub fn tick(
    plan: &Plan,
    m: &mut Manifest,
    probe: &dyn Probe,
    locks: &mut LockTable,
    now: &str,
    may_start: bool,
) -> TickOutput {
    tick_only(plan, m, probe, locks, now, may_start, None)
}

/// [`tick`] over part of a run: only the nodes marked in `only` are looked at; the others keep
/// the state the manifest gives them (a fan-out runner imports the upstream groups' outcomes and
/// leaves the rest of the run to other runners).
pub fn tick_only(
    plan: &Plan,
    m: &mut Manifest,
    probe: &dyn Probe,
    locks: &mut LockTable,
    now: &str,
    may_start: bool,
    only: Option<&[bool]>,
) -> TickOutput {
    tick_woken(plan, m, probe, locks, now, may_start, only, Wake::All)
}

/// [`tick_only`] looking only at what `wake` names and what their changes reach (see
/// [`wake`]): the same decisions as a full pass when nothing else changed since the last tick.
#[allow(clippy::too_many_arguments)]
pub fn tick_woken(
    plan: &Plan,
    m: &mut Manifest,
    probe: &dyn Probe,
    locks: &mut LockTable,
    now: &str,
    may_start: bool,
    only: Option<&[bool]>,
    wake: Wake<'_>,
) -> TickOutput {
    let mut out = TickOutput::default();
    if m.is_finished() {
        return out;
    }
    let mut work = Worklist::new(plan.nodes.len(), wake);
    loop {
        let mut progress = false;
        while let Some(i) = work.next() {
            if only.is_some_and(|only| !only[i]) {
                continue;
            }
            let status = m.nodes[i].status;
            if status == Status::Running && out.start.contains(&i) {
                continue; // started in this tick; its process is recorded by the caller
            }
            if status == Status::Running {
                let job_id = m.nodes[i].job_id.clone();
                let attempt = m.nodes[i].attempts;
                if let Some(outcome) = probe.outcome(&job_id, attempt) {
                    finish_woken(plan, m, locks, i, outcome, now, &mut out, &mut work);
                    progress = true;
                } else if !probe.alive(&job_id, attempt, m.nodes[i].process.as_ref()) {
                    // It may have recorded its outcome and exited between the two looks; or
                    // its record, written from that outcome, may be newer than this manifest.
                    if let Some(outcome) = probe
                        .outcome(&job_id, attempt)
                        .or_else(|| probe.recorded_outcome(&job_id, attempt))
                    {
                        finish_woken(plan, m, locks, i, outcome, now, &mut out, &mut work);
                        progress = true;
                        continue;
                    }
                    let pid = m.nodes[i].process.as_ref().map_or(0, |p| p.pid);
                    out.vanished.push((i, attempt, m.nodes[i].process.clone()));
                    let vanished = OutcomeFile {
                        job_id,
                        attempt,
                        outcome: Outcome::Failed,
                        message: Some(format!(
                            "the job's process (pid {pid}) vanished before recording an outcome (killed, or the machine restarted)"
                        )),
                        ..OutcomeFile::default()
                    };
                    finish_woken(plan, m, locks, i, vanished, now, &mut out, &mut work);
                    progress = true;
                }
                continue;
            }
            if status.is_terminal() {
                continue;
            }
            match evaluate(plan, m, probe, locks, i) {
                Decision::Wait(status, why) => {
                    let node = &mut m.nodes[i];
                    if node.status != status || node.wait_reason.as_ref() != Some(&why) {
                        let label = format!("{}: {}", why.kind, why.detail);
                        if !node.waited_on.contains(&label) {
                            node.waited_on.push(label);
                        }
                        node.status = status;
                        node.wait_reason = Some(why);
                        out.changed.insert(i);
                        out.events.push(Event::Waiting(i));
                        work.changed(i, &m.nodes);
                    }
                }
                Decision::End(status, why) => {
                    let node = &mut m.nodes[i];
                    node.status = status;
                    node.outcome = None;
                    node.reason = Some(why);
                    node.wait_reason = None;
                    node.finished_at = Some(now.to_owned());
                    out.changed.insert(i);
                    out.events.push(Event::Finished(i));
                    progress = true;
                    work.changed(i, &m.nodes);
                }
                Decision::Start if may_start => {
                    inherit_context(plan, m, i);
                    let node = &mut m.nodes[i];
                    node.status = Status::Running;
                    node.wait_reason = None;
                    node.started_at = Some(now.to_owned());
                    node.finished_at = None;
                    for lock in &plan.nodes[i].locks {
                        if lock.run_wide() {
                            locks.add_for_run(&lock.key, lock.mode, &node.job_id, &plan.run_id);
                        } else {
                            locks.add(&lock.key, lock.mode, &node.job_id);
                        }
                    }
                    out.changed.insert(i);
                    out.start.push(i);
                    out.events.push(Event::Started(i));
                    progress = true;
                    work.changed(i, &m.nodes);
                }
                Decision::Start => {}
            }
        }
        if !progress || !work.next_pass() {
            break;
        }
    }
    if m.nodes.iter().all(|n| n.status.is_terminal()) {
        m.outcome = Some(run_outcome(plan, m));
        m.finished_at = Some(now.to_owned());
        out.events.push(Event::RunFinished);
    }
    out
}

/// The outcome of a run whose nodes all ended: `succeeded` when no node ended badly
/// and every terminal that was not skipped succeeded, else `failed`.
pub fn run_outcome(plan: &Plan, m: &Manifest) -> RunOutcome {
    let bad = m.nodes.iter().any(|n| n.status.is_bad());
    let terminals_ok = plan
        .nodes
        .iter()
        .zip(&m.nodes)
        .filter(|(p, _)| p.control_policy.as_deref() == Some("terminal"))
        .all(|(_, n)| matches!(n.status, Status::Succeeded | Status::Skipped));
    if !bad && terminals_ok {
        RunOutcome::Succeeded
    } else {
        RunOutcome::Failed
    }
}

/// [`finish`], then wakes what the change reaches: the node's dependents, and the nodes its
/// loop-backs put back to `queued`.
#[allow(clippy::too_many_arguments)]
fn finish_woken(
    plan: &Plan,
    m: &mut Manifest,
    locks: &mut LockTable,
    i: usize,
    outcome: OutcomeFile,
    now: &str,
    out: &mut TickOutput,
    work: &mut Worklist<'_>,
) {
    let requeued = out.requeued.len();
    finish(plan, m, locks, i, outcome, now, out);
    work.changed(i, &m.nodes);
    for &j in &out.requeued[requeued..] {
        work.requeued(j, &m.nodes);
    }
}

/// Records a finished attempt and follows its loop-back routes.
fn finish(
    plan: &Plan,
    m: &mut Manifest,
    locks: &mut LockTable,
    i: usize,
    outcome: OutcomeFile,
    now: &str,
    out: &mut TickOutput,
) {
    let status = Status::from(outcome.outcome);
    {
        let node = &mut m.nodes[i];
        locks.release(&node.job_id);
        node.status = status;
        node.outcome = Some(outcome.outcome);
        node.exit_code = outcome.exit_code;
        node.finished_at = Some(outcome.finished_at.unwrap_or_else(|| now.to_owned()));
        if let Some(started) = outcome.started_at {
            node.started_at = Some(started);
        }
        node.reason = outcome.message;
        node.process = None;
        for (k, v) in outcome.metadata {
            node.metadata.insert(k, v);
        }
    }
    out.changed.insert(i);
    out.events.push(Event::Finished(i));

    let loops: Vec<usize> = plan.nodes[i]
        .loops
        .iter()
        .filter(|l| l.outcome == outcome.outcome)
        .map(|l| l.target)
        .collect();
    if loops.is_empty() {
        return;
    }
    let budget = plan.nodes[i].retry_budget;
    let cap = plan.policy.max_requeues;
    if m.nodes[i].loops >= budget {
        block(
            &mut m.nodes[i],
            format!(
                "ended {} with its retry budget spent ({budget} re-run{}); the run stops here",
                status.as_str(),
                if budget == 1 { "" } else { "s" }
            ),
        );
        return;
    }
    if u64::from(m.requeues) >= cap {
        block(
            &mut m.nodes[i],
            format!(
                "ended {} but the run reached its cap of {cap} re-queues ([policy] max_requeues)",
                status.as_str()
            ),
        );
        return;
    }
    m.nodes[i].loops += 1;
    m.requeues += 1;
    let mut rewound = BTreeSet::new();
    for target in loops {
        rewound.extend(plan.downstream(target));
    }
    for j in rewound {
        requeue(&mut m.nodes[j]);
        out.changed.insert(j);
        out.requeued.push(j);
        out.events.push(Event::Requeued(j));
    }
}

fn block(node: &mut ManifestNode, why: String) {
    node.status = Status::Blocked;
    node.outcome = Some(Outcome::Blocked);
    node.reason = Some(why);
}

/// Puts a job back to `queued` for its next attempt (loop-backs and `jobs retry`).
pub fn requeue(node: &mut ManifestNode) {
    // A node that never started keeps its attempt number: nothing of it ran yet.
    if node.started_at.is_some() || node.status.is_terminal() {
        node.attempts += 1;
    }
    node.status = Status::Queued;
    node.outcome = None;
    node.exit_code = None;
    node.started_at = None;
    node.finished_at = None;
    node.process = None;
    node.wait_reason = None;
    node.reason = None;
    node.approval = None;
    node.person_retry = false;
    node.metadata
        .retain(|k, _| k == "execution_root" || k.starts_with("worktree_"));
}

/// Is there a failure no handler takes? Under `block_downstream` nothing new starts after one.
fn unhandled_failure<'m>(plan: &Plan, m: &'m Manifest) -> Option<&'m ManifestNode> {
    m.nodes.iter().enumerate().find_map(|(i, node)| {
        let on = match node.status {
            Status::Failed => Some(DepOn::Failed),
            Status::Blocked => Some(DepOn::Blocked),
            Status::Cancelled | Status::BlockedByApproval => None,
            _ => return None,
        };
        let handled = on.is_some_and(|on| {
            plan.nodes
                .iter()
                .any(|p| p.deps.iter().any(|d| d.node == i && d.on == on))
        });
        (!handled).then_some(node)
    })
}

fn evaluate(plan: &Plan, m: &Manifest, probe: &dyn Probe, locks: &LockTable, i: usize) -> Decision {
    let pn = &plan.nodes[i];
    let mut waiting = Vec::new();
    let mut blocked_by = None;
    let mut handler_not_taken = None;
    let mut skipped = 0;
    for dep in &pn.deps {
        let up = &m.nodes[dep.node];
        if !up.status.is_terminal() {
            waiting.push(up.node_id.as_str());
            continue;
        }
        match dep.on {
            DepOn::Success => match up.status {
                Status::Succeeded => {}
                Status::Skipped => skipped += 1,
                other => {
                    blocked_by.get_or_insert(format!("`{}` ended {other}", up.node_id));
                }
            },
            DepOn::Failed | DepOn::Blocked => {
                let wanted = if dep.on == DepOn::Failed {
                    Status::Failed
                } else {
                    Status::Blocked
                };
                if up.status != wanted {
                    handler_not_taken.get_or_insert(format!(
                        "handles `{}` ending {wanted}, but it ended {}",
                        up.node_id, up.status
                    ));
                }
            }
        }
    }
    if let Some(why) = handler_not_taken {
        return Decision::End(Status::Skipped, why);
    }
    if let Some(why) = blocked_by {
        return Decision::End(Status::BlockedByDependency, why);
    }
    if !waiting.is_empty() {
        return Decision::Wait(Status::WaitingOnDeps, reason("after", waiting.join(", ")));
    }
    if pn.deps.is_empty() {
        // An entry node waits for the runs named by `vizier run --after`.
        for after in &plan.after_runs {
            match probe.run_outcome(after) {
                OtherRun::Running => {
                    return Decision::Wait(
                        Status::WaitingOnDeps,
                        reason("after_run", format!("run {after} has not ended")),
                    );
                }
                OtherRun::Ended(RunOutcome::Succeeded) => {}
                OtherRun::Missing => {
                    return Decision::End(
                        Status::BlockedByDependency,
                        format!("waits for run {after}, which does not exist"),
                    );
                }
                OtherRun::Ended(other) => {
                    return Decision::End(
                        Status::BlockedByDependency,
                        format!("waits for run {after}, which ended {other}"),
                    );
                }
                OtherRun::Unreadable(why) => {
                    return Decision::End(
                        Status::BlockedByDependency,
                        format!("waits for run {after}, which ended unreadable ({why})"),
                    );
                }
            }
        }
    }
    if !pn.deps.is_empty() && skipped == pn.deps.len() {
        return Decision::End(Status::Skipped, "every upstream node was skipped".into());
    }
    let is_handler = pn.deps.iter().any(|d| d.on != DepOn::Success);
    if plan.policy.failure_mode == FailureMode::BlockDownstream
        && !is_handler
        && !m.nodes[i].person_retry
        && let Some(failed) = unhandled_failure(plan, m)
    {
        return Decision::End(
            Status::BlockedByDependency,
            format!(
                "the run stopped after `{}` ended {} (failure_mode = block_downstream)",
                failed.node_id, failed.status
            ),
        );
    }
    for need in &pn.needs {
        if !probe.artifact_exists(&m.run_id, need) {
            let label = format!("custom:{}:{}", need.type_id, need.key);
            let producer_pending = plan
                .nodes
                .iter()
                .zip(&m.nodes)
                .any(|(p, n)| p.produces.contains(need) && !n.status.is_terminal());
            if producer_pending {
                return Decision::Wait(Status::WaitingOnDeps, reason("artifact", label));
            }
            return Decision::End(
                Status::BlockedByDependency,
                format!("needs artifact `{label}`, which no node of this run produced"),
            );
        }
    }
    let root = m.nodes[i]
        .metadata
        .get("execution_root")
        .and_then(Value::as_str)
        .unwrap_or(".");
    let inherited_root = inherited_execution_root(plan, m, i).unwrap_or_else(|| root.to_owned());
    for pre in &pn.preconditions {
        if let Err(why) = probe.precondition(pre, &inherited_root) {
            return Decision::Wait(Status::WaitingOnDeps, reason("precondition", why));
        }
    }
    if pn.approval_required() {
        match m.nodes[i].approval.as_ref().map(|a| a.state) {
            Some(ApprovalState::Approved) => {}
            Some(ApprovalState::Rejected) => {
                let why = m.nodes[i]
                    .approval
                    .as_ref()
                    .and_then(|a| a.reason.clone())
                    .unwrap_or_else(|| "no reason given".into());
                return Decision::End(Status::BlockedByApproval, format!("rejected: {why}"));
            }
            None => {
                return Decision::Wait(
                    Status::WaitingOnApproval,
                    reason("approval", format!("vizier jobs approve {}", pn.job_id)),
                );
            }
        }
    }
    for lock in &pn.locks {
        if let Some(holder) = locks.conflict_in(&lock.key, lock.mode, &pn.job_id, &plan.run_id) {
            return Decision::Wait(
                Status::WaitingOnLocks,
                reason("lock", format!("`{}` is held by {holder}", lock.key)),
            );
        }
    }
    Decision::Start
}

/// The execution context flows along success edges: a node runs where its first upstream that set
/// one ran (the worktree a `worktree.prepare` created), else in the repository root.
fn inherited_execution_root(plan: &Plan, m: &Manifest, i: usize) -> Option<String> {
    plan.nodes[i]
        .deps
        .iter()
        .filter(|d| d.on == DepOn::Success)
        .filter_map(|d| m.nodes[d.node].metadata.get("execution_root"))
        .filter_map(Value::as_str)
        .find(|r| *r != ".")
        .map(str::to_owned)
}

fn inherit_context(plan: &Plan, m: &mut Manifest, i: usize) {
    let Some(source) = plan.nodes[i]
        .deps
        .iter()
        .filter(|d| d.on == DepOn::Success)
        .map(|d| d.node)
        .find(|&u| {
            m.nodes[u]
                .metadata
                .get("execution_root")
                .and_then(Value::as_str)
                .is_some_and(|r| r != ".")
        })
    else {
        return;
    };
    let context: Vec<(String, Value)> = m.nodes[source]
        .metadata
        .iter()
        .filter(|(k, _)| *k == "execution_root" || k.starts_with("worktree_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in context {
        m.nodes[i].metadata.insert(k, v);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::compile::{Trigger, assign_run_id, compile, resolve_params};
    use crate::store::Store;
    use crate::template::parse_template;

    /// A world where processes and outcomes are whatever the test says.
    #[derive(Default)]
    struct Fake {
        outcomes: RefCell<HashMap<String, Outcome>>,
        /// Outcomes written just after the scheduler's first look (then the process exits).
        late: RefCell<HashMap<String, Outcome>>,
        dead: RefCell<Vec<String>>,
    }

    impl Probe for Fake {
        fn outcome(&self, job_id: &str, attempt: u32) -> Option<OutcomeFile> {
            if let Some(o) = self.late.borrow_mut().remove(job_id) {
                self.outcomes.borrow_mut().insert(job_id.to_owned(), o);
                return None;
            }
            self.outcomes.borrow().get(job_id).map(|o| OutcomeFile {
                job_id: job_id.into(),
                attempt,
                outcome: *o,
                ..OutcomeFile::default()
            })
        }
        fn alive(&self, job_id: &str, _: u32, _: Option<&ProcessId>) -> bool {
            !self.dead.borrow().iter().any(|d| d == job_id)
        }
        fn artifact_exists(&self, _: &str, _: &PlanArtifact) -> bool {
            false
        }
        fn precondition(&self, _: &PlanPrecondition, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    fn setup(text: &str) -> (Plan, Manifest) {
        let parsed = parse_template(0, text);
        let template = parsed.template.unwrap();
        let params = resolve_params(&template, &[]).unwrap();
        let mut plan = compile(&template, "t.toml", params, Trigger::default(), None).unwrap();
        assign_run_id(&mut plan, 0);
        let manifest = Store::new(std::path::Path::new("/nowhere")).initial_manifest(&plan, "T0");
        (plan, manifest)
    }

    const CHAIN: &str = r#"id = "t"
version = "v1"
[[nodes]]
id = "a"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
locks = [{ key = "repo", mode = "exclusive" }]
on = { failed = ["fix"] }
[[nodes]]
id = "b"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
after = [{ node_id = "a" }]
[[nodes]]
id = "fix"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
"#;

    fn id(plan: &Plan, node: &str) -> String {
        plan.nodes
            .iter()
            .find(|n| n.node_id == node)
            .unwrap()
            .job_id
            .clone()
    }

    #[test]
    fn a_chain_starts_its_head_and_records_why_the_rest_waits() {
        let (plan, mut m) = setup(CHAIN);
        let fake = Fake::default();
        let out = tick(&plan, &mut m, &fake, &mut LockTable::default(), "T1", true);
        assert_eq!(out.start, [0]);
        assert_eq!(m.nodes[0].status, Status::Running);
        assert_eq!(m.nodes[0].started_at.as_deref(), Some("T1"));
        assert_eq!(m.nodes[1].status, Status::WaitingOnDeps);
        assert_eq!(m.nodes[1].wait_reason.as_ref().unwrap().detail, "a");
        assert_eq!(
            m.nodes[2].status,
            Status::WaitingOnDeps,
            "a handler waits for its source"
        );

        fake.outcomes
            .borrow_mut()
            .insert(id(&plan, "a"), Outcome::Succeeded);
        let out = tick(&plan, &mut m, &fake, &mut LockTable::default(), "T2", true);
        assert_eq!(out.start, [1]);
        assert_eq!(
            m.nodes[2].status,
            Status::Skipped,
            "the handler's route was not taken"
        );
        fake.outcomes
            .borrow_mut()
            .insert(id(&plan, "b"), Outcome::Succeeded);
        let out = tick(&plan, &mut m, &fake, &mut LockTable::default(), "T3", true);
        assert!(out.events.contains(&Event::RunFinished));
        assert_eq!(m.outcome, Some(RunOutcome::Succeeded));
        assert_eq!(m.finished_at.as_deref(), Some("T3"));
    }

    #[test]
    fn a_vanished_process_fails_its_job_and_its_handler_runs() {
        let (plan, mut m) = setup(CHAIN);
        let fake = Fake::default();
        tick(&plan, &mut m, &fake, &mut LockTable::default(), "T1", true);
        fake.dead.borrow_mut().push(id(&plan, "a"));
        let out = tick(&plan, &mut m, &fake, &mut LockTable::default(), "T2", true);
        assert_eq!(m.nodes[0].status, Status::Failed);
        assert!(m.nodes[0].reason.as_ref().unwrap().contains("vanished"));
        assert_eq!(m.nodes[1].status, Status::BlockedByDependency);
        assert_eq!(out.start, [2], "the failure handler starts");
    }

    #[test]
    fn a_job_that_records_its_outcome_and_exits_between_two_looks_did_not_vanish() {
        let (plan, mut m) = setup(CHAIN);
        let fake = Fake::default();
        tick(&plan, &mut m, &fake, &mut LockTable::default(), "T1", true);
        fake.late
            .borrow_mut()
            .insert(id(&plan, "a"), Outcome::Succeeded);
        fake.dead.borrow_mut().push(id(&plan, "a"));
        let out = tick(&plan, &mut m, &fake, &mut LockTable::default(), "T2", true);
        assert_eq!(
            m.nodes[0].status,
            Status::Succeeded,
            "{:?}",
            m.nodes[0].reason
        );
        assert_eq!(out.start, [1]);
    }

    #[test]
    fn a_held_lock_makes_a_job_wait_and_a_non_driver_starts_nothing() {
        let (plan, mut m) = setup(CHAIN);
        let fake = Fake::default();
        let mut locks = LockTable::default();
        locks.add("repo", LockMode::Shared, "some-other-job");
        let out = tick(&plan, &mut m, &fake, &mut locks, "T1", true);
        assert!(out.start.is_empty());
        assert_eq!(m.nodes[0].status, Status::WaitingOnLocks);
        assert!(
            m.nodes[0]
                .wait_reason
                .as_ref()
                .unwrap()
                .detail
                .contains("some-other-job")
        );

        let (plan, mut m) = setup(CHAIN);
        let out = tick(&plan, &mut m, &fake, &mut LockTable::default(), "T1", false);
        assert!(out.start.is_empty());
        assert_eq!(m.nodes[0].status, Status::Queued);
    }

    #[test]
    fn a_run_wide_lock_binds_other_runs_not_its_own_and_outlives_the_job() {
        let mut locks = LockTable::default();
        locks.add_for_run("branch:main", LockMode::Exclusive, "run-a-merge", "run-a");
        // Released jobs keep a run-wide lock: it goes with the run.
        locks.release("run-a-merge");
        assert_eq!(
            locks.conflict_in("branch:main", LockMode::Exclusive, "run-a-other", "run-a"),
            None
        );
        assert_eq!(
            locks.conflict_in("branch:main", LockMode::Exclusive, "run-b-merge", "run-b"),
            Some("run-a-merge")
        );
        assert_eq!(
            locks.conflict_in("branch:dev", LockMode::Exclusive, "run-b-merge", "run-b"),
            None
        );
    }
}
