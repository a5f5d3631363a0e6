//! Driving runs: the impure half of the scheduler. A tick takes the scheduler lock, loads the active
//! runs, lets `schedule` decide, starts the jobs it chose, and writes every changed record and
//! manifest in one atomic batch. Also the job process itself (`__workflow-node`), the foreground
//! driver of `vizier run`, and the person-driven changes of `vizier jobs`.
//!
//! Who ticks: a foreground `vizier run` ticks its own run whenever a job ends (it waits on its
//! children) and on a short poll; every other process — a job that ends in a run without a live
//! driver, and every `vizier jobs` command — ticks the runs nobody drives. So detached runs drive
//! themselves forward, and a run whose driver died is picked up by the next tick.

pub mod interrupt;
pub mod person;
pub mod retry;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::compile::{Plan, PlanArtifact, PlanPrecondition};
use crate::error::{Error, Result};
use crate::ops::{self, OpContext, OpResult};
use crate::process;
use crate::schedule::{self, Dependents, LockTable, OtherRun, Probe, Wake};
use crate::store::{self, Batch, Manifest, OutcomeFile, ProcessId, Status, Store, to_json};
use crate::template::Outcome;
pub use crate::workspace::inside_root;

/// Reads the world for the scheduler from the store, the processes' life locks and git.
pub struct StoreProbe<'a> {
    pub store: &'a Store,
}

impl Probe for StoreProbe<'_> {
    fn run_outcome(&self, run_id: &str) -> OtherRun {
        if !store::ids::is_run_id(run_id) {
            return OtherRun::Missing;
        }
        match self.store.load_manifest(run_id) {
            Ok(Some(m)) => m.outcome.map_or(OtherRun::Running, OtherRun::Ended),
            Ok(None) => OtherRun::Missing,
            // An unreadable record is not a success: the wait ends blocked, naming it.
            Err(e) => OtherRun::Unreadable(e.to_string()),
        }
    }

    fn outcome(&self, job_id: &str, attempt: u32) -> Option<OutcomeFile> {
        let bytes = store::guard::read_regular(&self.store.outcome_path(job_id)).ok()?;
        let outcome: OutcomeFile = serde_json::from_slice(&bytes).ok()?;
        (outcome.attempt == attempt).then_some(outcome)
    }

    fn recorded_outcome(&self, job_id: &str, attempt: u32) -> Option<OutcomeFile> {
        self.store.recorded_outcome(job_id, attempt)
    }

    fn alive(&self, job_id: &str, attempt: u32, recorded: Option<&ProcessId>) -> bool {
        // The claimant is the process really running the attempt; the recorded pid is who was
        // started, which may have lost the claim to a duplicate start.
        process::attempt_alive(self.store, job_id, attempt, recorded)
    }

    fn artifact_exists(&self, run_id: &str, artifact: &PlanArtifact) -> bool {
        std::fs::read_dir(
            self.store
                .artifact_marker_dir(run_id, &artifact.type_id, &artifact.key),
        )
        .is_ok_and(|mut entries| entries.next().is_some())
    }

    fn precondition(
        &self,
        pre: &PlanPrecondition,
        execution_root: &str,
    ) -> std::result::Result<(), String> {
        let dir = self.store.root.join(execution_root);
        match pre {
            PlanPrecondition::CleanWorktree => {
                let dirty = crate::ops::dirty_paths(&dir, true)?;
                if dirty.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "work tree has uncommitted changes: {}",
                        dirty.join(", ")
                    ))
                }
            }
            PlanPrecondition::BranchExists { branch } => {
                let verify = [
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("refs/heads/{branch}"),
                ];
                let ok = crate::git::command::run_in(&dir, &verify).is_ok_and(|out| out.ok());
                if ok {
                    Ok(())
                } else {
                    Err(format!("branch `{branch}` does not exist"))
                }
            }
        }
    }
}

/// Which runs a tick may start jobs in.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// The foreground driver of this run.
    Driver(&'a str),
    /// The foreground driver of part of this run: only the marked nodes are scheduled (a fan-out
    /// runner's group; the other nodes belong to other runners).
    Part(&'a str, &'a [bool]),
    /// Every active run without a live driver.
    Undriven,
}

/// How far a driven run's manifest may lag behind its job records while the run advances: a
/// foreground driver rewrites `runs/<id>.json` at most this often (plus its poll interval), and at
/// once when the run ends or waits on nothing of its own. Job records and outcome files are still
/// written the moment they change.
const MANIFEST_LAG: Duration = Duration::from_millis(800);

/// The shell-command capability: its jobs never read the run's manifest.
const SHELL_COMMAND: &str = "cap.env.shell.command.run";

/// Plans and manifests a long-lived process keeps between ticks.
#[derive(Default)]
pub struct Cache {
    plans: HashMap<String, Arc<Plan>>,
    /// What each manifest file looked like (see [`Fingerprint`]) when this process last wrote or
    /// read it, and the parsed value (newer than the file while a driver coalesces its writes).
    seen: HashMap<String, Fingerprint>,
    parsed: HashMap<String, Manifest>,
    /// Runs whose in-memory manifest is ahead of the file, and when each file was last written.
    pending: HashSet<String>,
    flushed: HashMap<String, Instant>,
    /// Runs whose job folders this process has checked (see [`Store::check_job_dir`]).
    checked: HashSet<String>,
    /// What a driver's ticks need to look at only what changed (`schedule::wake`): each run's
    /// dependents, the nodes whose processes ended since its last tick, and when it last had a
    /// full pass.
    wake: WakeState,
}

/// A foreground driver ticks after each of its children ends; such a tick looks only at the
/// nodes that ended and what their changes reach. A full pass is made when something outside the
/// tick may have changed: the run's manifest was written by another process (a person's retry,
/// cancel or approval), another active run changed or ended (locks, `--after`), a tick started
/// nothing it meant to (a failed spawn), a poll found no child ended — and at least this often,
/// for what no file tells (a precondition on git state).
const FULL_PASS_EVERY: Duration = Duration::from_secs(1);

/// How many times one tick finishes jobs it started that already ended (and starts what that
/// frees). Bounded so that a tick, which holds the scheduler lock, always ends.
const ABSORB_PASSES: usize = 4;

#[derive(Default)]
struct WakeState {
    dependents: HashMap<String, Arc<Dependents>>,
    ended: HashMap<String, Vec<usize>>,
    full_at: HashMap<String, Instant>,
    want_full: HashSet<String>,
    /// Runs whose manifest this process read from the file (not from its own copy) since their
    /// last tick.
    reread: HashSet<String>,
    /// The other active runs and what their manifests looked like at the last tick.
    others: Vec<(String, Option<Fingerprint>)>,
    /// Tests: no full pass but for a change seen in the store (`VIZIER_FAILPOINT=
    /// driver-no-fallback-pass`), so a missed wake-up shows.
    no_fallback: bool,
}

/// Identity of a version of a file, from `lstat`: device, inode, size, and the modification and
/// change times. Every atomic write of a manifest puts a different inode in place (an exchange
/// with the swap file or a rename), so a write by another process changes it; then the file is
/// read and parsed again, else the cached value is used without reading the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path)?;
    Ok(Fingerprint {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

impl Cache {
    /// A cache for a foreground driver.
    pub fn for_driver() -> Cache {
        let mut cache = Cache::default();
        cache.wake.no_fallback = store::failpoint_set("driver-no-fallback-pass");
        cache
    }

    /// The process of node `index` of `run_id` ended: the next tick looks at it.
    pub fn ended(&mut self, run_id: &str, index: usize) {
        self.wake
            .ended
            .entry(run_id.to_owned())
            .or_default()
            .push(index);
    }

    /// The next tick of `run_id` looks at every node (unless fallback passes are off for a test).
    pub fn want_full(&mut self, run_id: &str) {
        if !self.wake.no_fallback {
            self.wake.want_full.insert(run_id.to_owned());
        }
    }

    fn dependents(&mut self, run_id: &str, plan: &Plan) -> Arc<Dependents> {
        self.wake
            .dependents
            .entry(run_id.to_owned())
            .or_insert_with(|| Arc::new(Dependents::of(plan)))
            .clone()
    }

    fn plan(&mut self, store: &Store, run_id: &str) -> Result<Arc<Plan>> {
        if !self.plans.contains_key(run_id) {
            let plan = store.load_plan(run_id)?;
            self.plans.insert(run_id.to_owned(), Arc::new(plan));
        }
        Ok(self.plans[run_id].clone())
    }

    /// The current manifest; parsed again only when its bytes changed since this process saw them.
    fn manifest(&mut self, store: &Store, run_id: &str) -> Result<Option<Manifest>> {
        let path = store.manifest_path(run_id);
        if !store::ids::is_run_id(run_id) {
            return Err(Error::Corrupt {
                path: path.display().to_string(),
                message: store::ids::explain_run_id(run_id),
            });
        }
        // Taken before the read: a write in between makes the next look read the file again.
        let print = match fingerprint(&path) {
            Ok(p) => Some(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(_) => None,
        };
        if print.is_some()
            && self.seen.get(run_id) == print.as_ref()
            && let Some(m) = self.parsed.remove(run_id)
        {
            return Ok(Some(m));
        }
        // Changed by someone else (or never seen): whatever this process had not written yet is
        // superseded by the file, and rebuilt from the outcome files and claims.
        self.pending.remove(run_id);
        self.wake.reread.insert(run_id.to_owned());
        let bytes = match store::guard::read_regular(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::Other => {
                return Err(Error::Corrupt {
                    path: path.display().to_string(),
                    message: e.to_string(),
                });
            }
            Err(source) => {
                return Err(Error::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let m = Manifest::parse(&bytes, &path)?;
        store::check_manifest(&m, run_id).map_err(|message| Error::Corrupt {
            path: path.display().to_string(),
            message,
        })?;
        match print {
            Some(p) => self.seen.insert(run_id.to_owned(), p),
            None => self.seen.remove(run_id),
        };
        Ok(Some(m))
    }

    /// Keeps a manifest for the next tick. (The tick that wrote a manifest already noted what the
    /// file looks like; `written` is kept for callers.)
    pub fn remember(&mut self, m: Manifest, written: Option<Vec<u8>>) {
        let _ = written;
        self.parsed.insert(m.run_id.clone(), m);
    }

    /// Writes the manifest of `run_id` if this process holds changes to it that are not in the
    /// file yet (a driver coalescing its writes), so that another process can take over from the
    /// file. Takes the scheduler lock.
    pub fn flush(&mut self, store: &Store, run_id: &str) -> Result<()> {
        if !self.pending.contains(run_id) {
            return Ok(());
        }
        let _lock = store.lock()?;
        let path = store.manifest_path(run_id);
        let current = fingerprint(&path).ok();
        if current.is_none() || self.seen.get(run_id) != current.as_ref() {
            self.pending.remove(run_id);
            return Ok(()); // changed by someone else since: theirs stands
        }
        if let Some(m) = self.parsed.get(run_id) {
            store::write_atomic(&path, &store::to_json_compact(m))?;
            self.note_written(store, run_id);
        }
        Ok(())
    }

    fn note_written(&mut self, store: &Store, run_id: &str) {
        self.pending.remove(run_id);
        self.flushed.insert(run_id.to_owned(), Instant::now());
        match fingerprint(&store.manifest_path(run_id)) {
            Ok(p) => self.seen.insert(run_id.to_owned(), p),
            Err(_) => self.seen.remove(run_id),
        };
    }
}

/// What a tick did.
#[derive(Default)]
pub struct TickReport {
    /// The runs it looked at, as they are now.
    pub runs: Vec<Manifest>,
    /// Processes it started (a driver waits on them).
    pub children: Vec<std::process::Child>,
    /// The run and node index of each of `children`, in the same order.
    pub started: Vec<(String, usize)>,
    /// Problems with individual runs that did not stop the tick (a corrupt manifest, say).
    pub warnings: Vec<String>,
    /// The manifest bytes this tick wrote, by run id.
    pub written: HashMap<String, Vec<u8>>,
}

/// One tick. Takes the scheduler lock for its duration.
pub fn tick(store: &Store, scope: Scope<'_>, cache: &mut Cache) -> Result<TickReport> {
    let _lock = store.lock()?;
    tick_locked(store, scope, cache)
}

fn tick_locked(store: &Store, scope: Scope<'_>, cache: &mut Cache) -> Result<TickReport> {
    let mut report = TickReport::default();
    let active = store.active_runs()?;
    let mut manifests: Vec<(Manifest, Arc<Plan>)> = Vec::new();
    // Locks held by running jobs, across every active run (those this tick leaves alone too).
    let mut locks = LockTable::default();
    for run_id in &active {
        let m = match cache.manifest(store, run_id) {
            Ok(Some(m)) => m,
            Ok(None) => {
                // A marker without a manifest: a materialization that never finished.
                if let Err(e) = store.discard_unmaterialized(run_id) {
                    report.warnings.push(format!(
                        "run {run_id} was never fully written and could not be removed: {e}"
                    ));
                }
                continue;
            }
            Err(e) => {
                report.warnings.push(format!("skipping run {run_id}: {e}"));
                continue;
            }
        };
        // A run its own live driver ticks is left to it: two processes finishing the same run
        // would race (and `jobs gc` could remove it under its driver's feet).
        let in_scope = match scope {
            Scope::Driver(own) | Scope::Part(own, _) => own == run_id,
            Scope::Undriven => !m
                .driver
                .as_ref()
                .is_some_and(|d| process::driver_alive(store, run_id, d)),
        };
        if !in_scope {
            if m.nodes
                .iter()
                .any(|n| n.status == Status::Running || n.started_at.is_some())
                && let Ok(plan) = cache.plan(store, run_id)
                && store::check_run(&plan, &m).is_ok()
            {
                add_locks(&mut locks, &plan, &m);
            }
            cache.remember(m, None);
            continue;
        }
        let plan = match cache.plan(store, run_id) {
            Ok(plan) => plan,
            Err(e) => {
                report.warnings.push(format!("skipping run {run_id}: {e}"));
                continue;
            }
        };
        // A manifest this process read from the file is checked against its plan; its own copy
        // (from a tick that checked it) keeps the plan's nodes.
        let checked = cache.checked.contains(run_id) && !cache.wake.reread.contains(run_id);
        if !checked && let Err(message) = store::check_run(&plan, &m) {
            report.warnings.push(format!(
                "skipping run {run_id}: `{}` is corrupt: {message}",
                store.manifest_path(run_id).display()
            ));
            continue;
        }
        // Each job folder is checked once per process; the ones a tick writes into are checked
        // again below.
        if let Some(e) = m
            .nodes
            .iter()
            .take(if cache.checked.contains(run_id) {
                0
            } else {
                usize::MAX
            })
            .find_map(|n| store.check_job_dir(&n.job_id).err())
        {
            report.warnings.push(format!(
                "skipping run {run_id}: {e}: {}",
                std::error::Error::source(&e).map_or(String::new(), |s| s.to_string())
            ));
            continue;
        }
        cache.checked.insert(run_id.clone());
        manifests.push((m, plan));
    }
    for (m, plan) in &manifests {
        add_locks(&mut locks, plan, m);
    }
    // Another active run that changed (or started, or ended) may free a lock or end a run
    // some node waits for: a driver's tick then looks at every node.
    let own = match scope {
        Scope::Driver(own) | Scope::Part(own, _) => Some(own),
        Scope::Undriven => None,
    };
    let others: Vec<(String, Option<Fingerprint>)> = active
        .iter()
        .filter(|r| Some(r.as_str()) != own)
        .map(|r| (r.clone(), cache.seen.get(r).copied()))
        .collect();
    let others_changed = others != cache.wake.others;
    cache.wake.others = others;
    let probe = StoreProbe { store };
    let now = store::now();
    let mut batch = Batch::default();
    let mut finished = Vec::new();
    for (mut m, plan) in manifests {
        let may_start = true;
        let mut dirty = false;
        if matches!(scope, Scope::Undriven) && m.driver.is_some() {
            m.driver = None; // its driver is gone
            dirty = true;
        }
        let only = match scope {
            Scope::Part(_, only) => Some(only),
            _ => None,
        };
        let run_id = m.run_id.clone();
        let ended = cache.wake.ended.remove(&run_id).unwrap_or_default();
        let reread = cache.wake.reread.remove(&run_id);
        let full = own.is_none()
            || reread
            || others_changed
            || cache.wake.want_full.remove(&run_id)
            || cache
                .wake
                .full_at
                .get(&run_id)
                .is_none_or(|t| !cache.wake.no_fallback && t.elapsed() >= FULL_PASS_EVERY);
        let mut out = if full {
            cache.wake.full_at.insert(run_id.clone(), Instant::now());
            schedule::tick_only(&plan, &mut m, &probe, &mut locks, &now, may_start, only)
        } else {
            let dependents = cache.dependents(&run_id, &plan);
            let wake = Wake::Nodes {
                nodes: &ended,
                dependents: &dependents,
            };
            schedule::tick_woken(
                &plan, &mut m, &probe, &mut locks, &now, may_start, only, wake,
            )
        };
        if let Err(e) = prepare(store, &plan, &out) {
            report.warnings.push(format!(
                "skipping run {}: {e}: {}",
                m.run_id,
                std::error::Error::source(&e).map_or(String::new(), |s| s.to_string())
            ));
            continue;
        }
        let driven = matches!(scope, Scope::Driver(_) | Scope::Part(..));
        // What this tick started and changed, over all its passes.
        let mut started: Vec<usize> = Vec::new();
        let mut changed_nodes = std::collections::BTreeSet::new();
        let mut absorbed = 0;
        let first_child = report.children.len();
        // The `report.children` indices of the jobs a later pass of this tick finished.
        let mut finished_here: std::collections::BTreeSet<usize> = Default::default();
        loop {
            for &i in &out.start {
                let node = &plan.nodes[i];
                let root = m.nodes[i]
                    .metadata
                    .get("execution_root")
                    .and_then(|v| v.as_str())
                    .unwrap_or(".")
                    .to_owned();
                match process::spawn_job(
                    store,
                    &node.job_id,
                    &plan.run_id,
                    m.nodes[i].attempts,
                    &root,
                    driven,
                ) {
                    Ok(child) => {
                        m.nodes[i].process = Some(process::process_id(child.id()));
                        report.children.push(child);
                        report.started.push((run_id.clone(), i));
                    }
                    Err(e) => {
                        // Decided outside the scheduler: the next tick looks at everything.
                        cache.wake.want_full.insert(run_id.clone());
                        let n = &mut m.nodes[i];
                        n.status = Status::Failed;
                        n.outcome = Some(Outcome::Failed);
                        n.reason = Some(format!(
                            "{e}: {}",
                            std::error::Error::source(&e)
                                .map(|s| s.to_string())
                                .unwrap_or_default()
                        ));
                        n.finished_at = Some(now.clone());
                        // It never ran.
                        n.started_at = None;
                    }
                }
            }
            started.extend(&out.start);
            changed_nodes.extend(&out.changed);
            // A short command often ends while the tick is still starting the others (200
            // independent nodes take a while to start). A driver finishes those in the same
            // tick, from their outcomes: each record is then written once, finished, instead
            // of once running and again at the next tick.
            if !driven || absorbed == ABSORB_PASSES || out.start.is_empty() {
                break;
            }
            absorbed += 1;
            store::delay_point("tick-before-absorb", 400);
            // (index in `report.children`, node) of each started job that has exited.
            let (reaped, exited): (Vec<usize>, Vec<usize>) = report.children[first_child..]
                .iter_mut()
                .zip(&report.started[first_child..])
                .enumerate()
                .filter(|(_, (child, (_, i)))| {
                    let n = &m.nodes[*i];
                    n.status == Status::Running
                        && n.process.as_ref().map(|p| p.pid) == Some(child.id())
                })
                .filter_map(|(k, (child, (_, i)))| {
                    child
                        .try_wait()
                        .ok()
                        .flatten()
                        .map(|_| (first_child + k, *i))
                })
                .unzip();
            if exited.is_empty() {
                break;
            }
            let dependents = cache.dependents(&run_id, &plan);
            let wake = Wake::Nodes {
                nodes: &exited,
                dependents: &dependents,
            };
            // On copies: a pass whose job folders fail their check is left to the next tick,
            // which skips the run and says why.
            let (mut m2, mut locks2) = (m.clone(), locks.clone());
            let next = schedule::tick_woken(
                &plan,
                &mut m2,
                &probe,
                &mut locks2,
                &now,
                may_start,
                only,
                wake,
            );
            if prepare(store, &plan, &next).is_err() {
                cache.wake.want_full.insert(run_id.clone());
                break;
            }
            (m, locks, out) = (m2, locks2, next);
            finished_here.extend(reaped);
        }
        // A job finished here is reaped and its end is handled: no thread needs to wait for it.
        if !finished_here.is_empty() {
            remove_indices(&mut report.children, &finished_here);
            remove_indices(&mut report.started, &finished_here);
        }
        let changed_any = !changed_nodes.is_empty() || !started.is_empty();
        let changed = changed_any || dirty || m.is_finished();
        if changed {
            if m.is_finished() {
                m.driver = None;
                finished.push(m.run_id.clone());
            }
            for &i in changed_nodes.iter() {
                let record = store.job_record(&plan, i, &m);
                batch.add(&store.job_path(&plan.nodes[i].job_id), to_json(&record));
            }
        }
        // A foreground driver coalesces its manifest writes (at most one per MANIFEST_LAG) while
        // its run advances; the manifest is written at once when the run ends, when no job of it
        // is running (it waits on a person, a lock or another run), and by every other tick.
        let pending = changed || cache.pending.contains(&m.run_id);
        // A builtin operation reads the run's manifest (its node's context, the worktree it
        // made): the manifest is written before such a job can look. Shell commands read
        // nothing of it, so a chain of them coalesces.
        let due = !matches!(scope, Scope::Driver(_))
            || m.is_finished()
            || started.iter().any(|&i| plan.nodes[i].uses != SHELL_COMMAND)
            || !m.nodes.iter().any(|n| n.status == Status::Running)
            || cache
                .flushed
                .get(&m.run_id)
                .is_none_or(|t| t.elapsed() >= MANIFEST_LAG);
        if pending && due {
            let bytes = store::to_json_compact(&m);
            batch.add(&store.manifest_path(&m.run_id), bytes.clone());
            report.written.insert(m.run_id.clone(), bytes);
        } else if pending {
            cache.pending.insert(m.run_id.clone());
        }
        report.runs.push(m);
    }
    batch.commit()?;
    for run_id in report.written.keys() {
        cache.note_written(store, run_id);
    }
    for run_id in finished {
        store.set_active(&run_id, false)?;
    }
    Ok(report)
}

/// Removes the items at `indices` from `items`, keeping the order of the rest.
fn remove_indices<T>(items: &mut Vec<T>, indices: &std::collections::BTreeSet<usize>) {
    let mut k = 0;
    items.retain(|_| {
        k += 1;
        !indices.contains(&(k - 1))
    });
}

/// What a tick does before it starts a pass's jobs and writes their records: checks the folders
/// of the jobs it is about to write into, stops what is left of vanished jobs' process groups (a
/// `kill -9` of the job process leaves its children), and drops the stale outcomes of re-queued
/// nodes.
fn prepare(store: &Store, plan: &Plan, out: &schedule::TickOutput) -> Result<()> {
    if let Some(e) = out
        .start
        .iter()
        .chain(&out.changed)
        .find_map(|&i| store.check_job_dir(&plan.nodes[i].job_id).err())
    {
        return Err(e);
    }
    for (i, attempt, recorded) in &out.vanished {
        let job_id = &plan.nodes[*i].job_id;
        let mut groups: Vec<u32> = recorded.iter().map(|p| p.pid).collect();
        groups.extend(process::claimant(store, job_id, *attempt).map(|p| p.pid));
        // An agent runs in a group of its own, which the job noted while it ran.
        groups.extend(crate::agent::noted_group(&store.job_dir(job_id)));
        process::orphans::stop_orphans(&groups);
    }
    for &i in &out.requeued {
        let _ = std::fs::remove_file(store.outcome_path(&plan.nodes[i].job_id));
    }
    Ok(())
}

/// Adds the locks of a run's running jobs to the table.
fn add_locks(locks: &mut LockTable, plan: &Plan, m: &Manifest) {
    for (p, n) in plan.nodes.iter().zip(&m.nodes) {
        // A run-wide lock is held from its first node's start until the run ends (finished runs
        // are not active, so they are never read here).
        let started = n.status == Status::Running || n.started_at.is_some();
        for lock in &p.locks {
            if lock.run_wide() {
                if started {
                    locks.add_for_run(&lock.key, lock.mode, &n.job_id, &plan.run_id);
                }
            } else if n.status == Status::Running {
                locks.add(&lock.key, lock.mode, &n.job_id);
            }
        }
    }
}

/// Applies a person's change to one run under the lock, writes it, then ticks the undriven runs.
pub fn update_run(
    store: &Store,
    run_id: &str,
    change: impl FnOnce(&Plan, &mut Manifest) -> Result<Vec<usize>>,
) -> Result<Manifest> {
    {
        let _lock = store.lock()?;
        let (plan, mut m) = load_run(store, run_id)?;
        for n in &m.nodes {
            store.check_job_dir(&n.job_id)?;
        }
        let changed = change(&plan, &mut m)?;
        let reopen = !changed.is_empty()
            && m.is_finished()
            && m.nodes.iter().any(|n| !n.status.is_terminal());
        if reopen {
            m.outcome = None;
            m.finished_at = None;
        }
        store.write_changes(&plan, &m, &changed)?;
        if !m.is_finished() {
            store.set_active(run_id, true)?;
        }
    }
    tick(store, Scope::Undriven, &mut Cache::default())?;
    Ok(store.load_manifest(run_id)?.unwrap_or_default())
}

/// A run's plan and manifest, checked against each other (a manifest that does not fit its plan
/// is corrupt; scheduling it would index past its end).
pub fn load_run(store: &Store, run_id: &str) -> Result<(Plan, Manifest)> {
    if !store::ids::is_run_id(run_id) {
        return Err(Error::Usage(store::ids::explain_run_id(run_id)));
    }
    let m = store
        .load_manifest(run_id)?
        .ok_or_else(|| Error::Usage(format!("no run `{run_id}` in the job store")))?;
    let plan = store.load_plan(run_id)?;
    store::check_run(&plan, &m).map_err(|message| Error::Corrupt {
        path: store.manifest_path(run_id).display().to_string(),
        message,
    })?;
    Ok((plan, m))
}

/// Finds which run a job belongs to (job ids are `<run_id>-<node>`; run ids have a fixed length).
pub fn run_of_job(store: &Store, job_id: &str) -> Result<(String, usize)> {
    let run_id = store::ids::run_of(job_id)
        .ok_or_else(|| Error::Usage(store::ids::explain_job_id(job_id)))?;
    let m = store
        .load_manifest(run_id)?
        .ok_or_else(|| Error::Usage(format!("no job `{job_id}` in the job store")))?;
    let index = m
        .nodes
        .iter()
        .position(|n| n.job_id == job_id)
        .ok_or_else(|| Error::Usage(format!("no job `{job_id}` in run {run_id}")))?;
    Ok((run_id.to_owned(), index))
}

/// The job process: `vizier __workflow-node --job-id <id>`.
pub fn run_node(root: &Path, job_id: &str) -> Result<()> {
    let store = Store::new(root);
    if !store::ids::is_job_id(job_id) {
        return Err(Error::Usage(store::ids::explain_job_id(job_id)));
    }
    let attempt = match std::env::var(process::ATTEMPT_ENV) {
        Ok(attempt) => attempt.parse::<u32>().unwrap_or(1),
        Err(_) => {
            let (run, index) = run_of_job(&store, job_id)?;
            let m = store.load_manifest(&run)?.unwrap_or_default();
            m.nodes.get(index).map_or(1, |n| n.attempts)
        }
    };
    if !process::claim(&store, job_id, attempt)? {
        return Ok(()); // Another process runs this attempt.
    }
    // This process's stderr is the job's log: the git operations write their commands there.
    crate::ops::log_to_stderr();
    let started_at = store::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        execute_node(&store, job_id, attempt)
    }));
    let result = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => OpResult::failed(format!("internal error: {e}")),
        Err(panic) => OpResult::failed(format!(
            "internal error: the operation panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    };
    if let Some(message) = &result.message {
        eprintln_log(message);
    }
    let outcome = OutcomeFile {
        job_id: job_id.to_owned(),
        attempt,
        outcome: result.outcome,
        exit_code: result.exit_code,
        started_at: Some(started_at),
        finished_at: Some(store::now()),
        message: result.message,
        metadata: result.metadata,
    };
    // A foreground driver records the outcome in the job's record (fsynced) as soon as this
    // process ends, so the outcome file itself need not wait for the disk. A job without one
    // makes its outcome durable before its own tick, which may have to wait for the lock.
    let driven = std::env::var_os(process::DRIVER_ENV).is_some();
    if driven {
        store::write_atomic_unsynced(&store.outcome_path(job_id), &to_json(&outcome))?;
    } else {
        store::write_atomic(&store.outcome_path(job_id), &to_json(&outcome))?;
        tick(&store, Scope::Undriven, &mut Cache::default())?;
    }
    Ok(())
}

/// A line in the job's stderr log (this process's stderr is the log file).
fn eprintln_log(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "vizier: {message}");
}

fn execute_node(store: &Store, job_id: &str, attempt: u32) -> Result<OpResult> {
    let spec = store.job_spec(job_id)?;
    let rel_root = std::env::var(process::ROOT_ENV).unwrap_or_else(|_| ".".into());
    let execution_root = inside_root(&store.root, &rel_root)?;
    let mut env = spec.env.clone();
    env.push(("VIZIER_JOB_ID".into(), job_id.to_owned()));
    env.push(("VIZIER_NODE_ID".into(), spec.node.node_id.clone()));
    env.push((process::ATTEMPT_ENV.into(), attempt.to_string()));
    env.push(("VIZIER_REPO_ROOT".into(), store.root.display().to_string()));
    crate::ops::changed_files::ensure(store, job_id, &mut env)?;
    env.push((
        process::ROOT_ENV.into(),
        execution_root.display().to_string(),
    ));
    // Node outputs: upstream values in, `$VIZIER_OUTPUT` out (crate::outputs).
    let inputs = match crate::outputs::prepare(store, &spec.node, &spec.run_id, attempt) {
        Ok(inputs) => inputs,
        Err(message) => {
            let mut result = OpResult::failed(message);
            result
                .metadata
                .insert("execution_root".into(), json!(rel_root));
            return Ok(result);
        }
    };
    env.extend(inputs.env.iter().cloned());
    let ctx = OpContext {
        store,
        spec: &spec,
        node: &inputs.node,
        attempt,
        execution_root,
        env,
        inputs: Some(&inputs),
    };
    let mut result = ops::execute(&ctx);
    crate::ops::finish_outputs(store, job_id, attempt, &mut result);
    result
        .metadata
        .entry("execution_root".into())
        .or_insert_with(|| json!(rel_root));
    if result.outcome == Outcome::Succeeded {
        // A marker per produced artifact, scoped to the run: what `needs` waits for.
        for artifact in &spec.node.produces {
            let dir = store.artifact_marker_dir(&spec.run_id, &artifact.type_id, &artifact.key);
            std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            let marker = dir.join(job_id);
            std::fs::File::create(&marker).map_err(|source| Error::Write {
                path: marker,
                source,
            })?;
        }
    }
    Ok(result)
}

/// The stack of a thread that waits on one job process.
const WAITER_STACK: usize = 64 * 1024;

/// Drives one run in the foreground until it ends; `observe` sees the manifest after every tick.
pub fn drive(store: &Store, run_id: &str, observe: &mut dyn FnMut(&Manifest)) -> Result<Manifest> {
    drive_scope(store, run_id, None, observe)
}

/// Drives the nodes marked in `only` until each has ended; the rest of the run is left as it is.
pub fn drive_part(
    store: &Store,
    run_id: &str,
    only: &[bool],
    observe: &mut dyn FnMut(&Manifest),
) -> Result<Manifest> {
    drive_scope(store, run_id, Some(only), observe)
}

fn drive_scope(
    store: &Store,
    run_id: &str,
    only: Option<&[bool]>,
    observe: &mut dyn FnMut(&Manifest),
) -> Result<Manifest> {
    let (tx, rx) = mpsc::channel::<(String, usize)>();
    let mut cache = Cache::for_driver();
    let scope = match only {
        Some(only) => Scope::Part(run_id, only),
        None => Scope::Driver(run_id),
    };
    interrupt::install();
    loop {
        if let Some(signal) = interrupt::received() {
            cache.flush(store, run_id)?;
            let m = interrupt::cancel_run(store, run_id, signal)?;
            observe(&m);
            return Ok(m);
        }
        store::delay_point("driver-before-tick", 300);
        let mut report = tick(store, scope, &mut cache)?;
        for (mut child, node) in report.children.into_iter().zip(report.started) {
            let tx = tx.clone();
            // A small stack: the thread only waits. Rust's default (2 MiB) is mapped and unmapped
            // once per job where the libc keeps no cache of thread stacks (musl).
            // If no thread can be started, the child is left unreaped until the driver exits, and
            // the driver's polling full passes see its end instead (from its claim and outcome).
            let _ = std::thread::Builder::new()
                .stack_size(WAITER_STACK)
                .spawn(move || {
                    let _ = child.wait();
                    let _ = tx.send(node);
                });
        }
        let mut manifest = None;
        for m in report.runs {
            if m.run_id == run_id {
                manifest = Some(m);
            } else {
                let written = report.written.remove(&m.run_id);
                cache.remember(m, written);
            }
        }
        let manifest = match manifest {
            Some(m) => m,
            // Not active any more: finished (perhaps by another process's tick).
            None => store
                .load_manifest(run_id)?
                .ok_or_else(|| Error::Usage(format!("run {run_id} disappeared from the store")))?,
        };
        observe(&manifest);
        let part_done = only.is_some_and(|only| {
            manifest
                .nodes
                .iter()
                .zip(only)
                .all(|(n, &mine)| !mine || n.status.is_terminal())
        });
        if manifest.is_finished() || part_done {
            return Ok(manifest);
        }
        let written = report.written.remove(run_id);
        cache.remember(manifest, written);
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((run, i)) => cache.ended(&run, i),
            // Nothing of this run ended: what changed, if anything, came from outside.
            Err(_) => cache.want_full(run_id),
        }
        while let Ok((run, i)) = rx.try_recv() {
            cache.ended(&run, i);
        }
    }
}
