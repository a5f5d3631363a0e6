//! The job store under `.vizier/jobs/`: where records live, the scheduler
//! lock, atomic writes, materializing a run, and reading records back tolerantly.
//!
//! Layout: `<job_id>/{job.json,stdout.log,stderr.log,outcome.json,claim-<attempt>}`,
//! `runs/<run_id>.json` (manifest: the scheduling truth of a run), `plans/<run_id>.json` (the
//! compiled plan, immutable), `active/<run_id>` (a marker while the run is unfinished, so a tick
//! touches active runs only), `artifacts/…`, `scheduler.lock`.

mod atomic;
mod failpoint;
pub mod gc;
pub mod guard;
pub mod ids;
mod payload;
pub mod records;
pub mod time;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub use atomic::{Batch, write_atomic, write_atomic_unsynced};
pub use failpoint::{delay_point, failpoint, failpoint_set};
pub use payload::{Payload, read_payload};
pub use records::*;

use crate::compile::{Plan, PlanNode, assign_run_id};
use crate::error::{Error, Result};

pub const JOBS_DIR: &str = ".vizier/jobs";

/// RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn io_read(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Read {
        path: path.display().to_string(),
        source,
    }
}

/// Holds the scheduler lock until dropped.
pub struct LockGuard {
    _file: File,
}

#[derive(Clone, Debug)]
pub struct Store {
    /// The repository root.
    pub root: PathBuf,
    /// `<root>/.vizier/jobs`.
    pub dir: PathBuf,
}

/// Whether a key of a job record's metadata came from the job (its node's metadata) rather than
/// from what [`Store::job_record`] derives from the plan and the manifest ([`RECORD_KEYS`]). The
/// payload references are derived as an empty list unless the job reported its own.
fn reported(key: &str, value: &Value) -> bool {
    match key {
        "workflow_payload_refs" => value.as_array().is_some_and(|refs| !refs.is_empty()),
        key => !RECORD_KEYS.contains(&key),
    }
}

/// The metadata keys [`Store::job_record`] derives from the plan and the manifest (it writes them
/// first, then the node's own metadata over them).
const RECORD_KEYS: &[&str] = &[
    "workflow_run_id",
    "workflow_template_id",
    "workflow_template_version",
    "workflow_node_id",
    "workflow_node_attempt",
    "workflow_node_outcome",
    "workflow_executor_class",
    "workflow_executor_operation",
    "workflow_control_policy",
    "workflow_policy_snapshot_hash",
    "workflow_gates",
    "workflow_payload_refs",
];

impl Store {
    pub fn new(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
            dir: root.join(JOBS_DIR),
        }
    }

    pub fn job_dir(&self, job_id: &str) -> PathBuf {
        self.dir.join(job_id)
    }

    pub fn job_path(&self, job_id: &str) -> PathBuf {
        self.job_dir(job_id).join("job.json")
    }

    pub fn outcome_path(&self, job_id: &str) -> PathBuf {
        self.job_dir(job_id).join("outcome.json")
    }

    pub fn claim_path(&self, job_id: &str, attempt: u32) -> PathBuf {
        self.job_dir(job_id).join(format!("claim-{attempt}"))
    }

    pub fn log_rel(&self, job_id: &str, stream: &str) -> String {
        format!("{JOBS_DIR}/{job_id}/{stream}.log")
    }

    pub fn manifest_path(&self, run_id: &str) -> PathBuf {
        self.dir.join("runs").join(format!("{run_id}.json"))
    }

    pub fn plan_path(&self, run_id: &str) -> PathBuf {
        self.dir.join("plans").join(format!("{run_id}.json"))
    }

    fn active_dir(&self) -> PathBuf {
        self.dir.join("active")
    }

    pub fn artifact_marker_dir(&self, run_id: &str, type_id: &str, key: &str) -> PathBuf {
        self.dir
            .join("artifacts/custom")
            .join(run_id)
            .join(type_id)
            .join(key)
    }

    /// `artifacts/outputs/<run_id>/`: the run's index of the jobs that published node outputs
    /// (see `outputs.rs`). Made with the run; removed with it.
    pub fn outputs_index_dir(&self, run_id: &str) -> PathBuf {
        self.dir.join("artifacts/outputs").join(run_id)
    }

    pub fn artifact_data_dir(&self, run_id: &str, type_id: &str, key: &str) -> PathBuf {
        self.dir
            .join("artifacts/data")
            .join(run_id)
            .join(type_id)
            .join(key)
    }

    /// Takes the scheduler lock, waiting as long as needed: holders keep it for one tick, and the
    /// kernel queues waiters, so the wait is bounded and nobody is turned away as "busy".
    pub fn lock(&self) -> Result<LockGuard> {
        self.check_links()?;
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Write {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.dir.join("scheduler.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        file.lock()
            .map_err(|source| Error::Write { path, source })?;
        Ok(LockGuard { _file: file })
    }

    /// Run ids with an active marker, sorted.
    pub fn active_runs(&self) -> Result<Vec<String>> {
        let dir = self.active_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io_read(&dir)(source)),
        };
        let mut runs: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| ids::is_run_id(n))
            .collect();
        runs.sort();
        Ok(runs)
    }

    pub fn set_active(&self, run_id: &str, active: bool) -> Result<()> {
        let path = self.active_dir().join(run_id);
        if active {
            std::fs::create_dir_all(self.active_dir()).map_err(|source| Error::Write {
                path: self.active_dir(),
                source,
            })?;
            guard::create_nofollow(&path, false).map_err(|source| Error::Write { path, source })?;
        } else if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::Write { path, source: e });
        }
        Ok(())
    }

    pub fn load_manifest(&self, run_id: &str) -> Result<Option<Manifest>> {
        let path = self.manifest_path(run_id);
        if !ids::is_run_id(run_id) {
            return Err(corrupt(&path, ids::explain_run_id(run_id)));
        }
        match guard::read_regular(&path) {
            Ok(bytes) => {
                let m = Manifest::parse(&bytes, &path)?;
                check_manifest(&m, run_id).map_err(|e| corrupt(&path, e))?;
                Ok(Some(m))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::Other => Err(corrupt(&path, e.to_string())),
            Err(source) => Err(io_read(&path)(source)),
        }
    }

    /// The plan of a run, checked: its ids obey the grammar and its indexes stay in bounds.
    pub fn load_plan(&self, run_id: &str) -> Result<Plan> {
        let path = self.plan_path(run_id);
        if !ids::is_run_id(run_id) {
            return Err(corrupt(&path, ids::explain_run_id(run_id)));
        }
        let bytes = read_record_bytes(&path)?;
        let plan: Plan =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e.to_string()))?;
        check_plan(&plan, run_id).map_err(|e| corrupt(&path, e))?;
        Ok(plan)
    }

    /// Reads any job record, old or new; a corrupt one is an error naming its path. The id is a
    /// folder name of the store (a job id, or an older version's single-name id), never a path.
    pub fn read_job(&self, job_id: &str) -> Result<JobRecord> {
        let path = self.job_path(job_id);
        if !is_store_name(job_id) {
            return Err(corrupt(&path, ids::explain_job_id(job_id)));
        }
        let bytes = read_record_bytes(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e.to_string()))
    }

    /// Refuses writes into the store when `.vizier`, `.vizier/jobs` or one of its own folders is
    /// a symlink leaving the repository.
    pub fn check_links(&self) -> Result<()> {
        let vizier = self.root.join(".vizier");
        guard::refuse_outside_link(&self.root, &vizier)?;
        guard::refuse_outside_link(&self.root, &self.dir)?;
        for sub in [
            "runs",
            "plans",
            "active",
            "artifacts",
            "artifacts/custom",
            "artifacts/data",
            "artifacts/outputs",
        ] {
            guard::refuse_outside_link(&self.root, &self.dir.join(sub))?;
        }
        Ok(())
    }

    /// Refuses writes into a job folder that is a symlink leaving the repository.
    pub fn check_job_dir(&self, job_id: &str) -> Result<()> {
        if !is_store_name(job_id) {
            return Err(corrupt(&self.job_dir(job_id), ids::explain_job_id(job_id)));
        }
        guard::refuse_outside_link(&self.root, &self.job_dir(job_id))
    }

    /// The first sequence number whose run id is not in the store yet; returns it.
    ///
    /// `plans/.next-<first run id>` notes a sequence number below which every run id of this
    /// template, params and trigger is taken ([`Store::note_sequence`] writes it): the probe
    /// starts there, so a store holding thousands of earlier runs of the same template costs a
    /// file read and two lookups, not one hash per earlier run. Runs leave the store only through
    /// `jobs gc`, which removes the notes. Without a note, the names in `runs/` and `plans/` are
    /// listed once and the sequence is probed in memory from 0.
    pub fn assign_free_run_id(&self, plan: &mut Plan) -> u64 {
        let noted = self.noted_sequence(plan);
        let mut taken = std::collections::HashSet::new();
        if noted.is_none() {
            for dir in ["runs", "plans"] {
                if let Ok(entries) = std::fs::read_dir(self.dir.join(dir)) {
                    for entry in entries.filter_map(|e| e.ok()) {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if let Some(run_id) = name.strip_suffix(".json") {
                            taken.insert(run_id.to_owned());
                        }
                    }
                }
            }
        }
        let mut sequence = noted.unwrap_or(0);
        loop {
            let run_id = crate::compile::run_id(
                &plan.template.policy_snapshot_hash,
                &plan.params,
                &plan.trigger,
                sequence,
            );
            if !taken.contains(&run_id)
                && !self.manifest_path(&run_id).exists()
                && !self.plan_path(&run_id).exists()
            {
                assign_run_id(plan, sequence);
                return sequence;
            }
            sequence = sequence.wrapping_add(1); // a free one is found long before 2^64
        }
    }

    /// Where the sequence note of a plan's template, params and trigger lives.
    fn sequence_note(&self, plan: &Plan) -> PathBuf {
        let first = crate::compile::run_id(
            &plan.template.policy_snapshot_hash,
            &plan.params,
            &plan.trigger,
            0,
        );
        self.dir.join("plans").join(format!(".next-{first}"))
    }

    /// The note's sequence number, if the store bears it out. A note is untrusted like every
    /// record: one that names a number whose predecessor is not in the store (hand-edited, or left
    /// by runs removed by hand) would skip free sequence numbers, so it is ignored and the store
    /// is listed instead.
    fn noted_sequence(&self, plan: &Plan) -> Option<u64> {
        let bytes = guard::read_regular(&self.sequence_note(plan)).ok()?;
        let noted: u64 = std::str::from_utf8(&bytes).ok()?.trim().parse().ok()?;
        let below = crate::compile::run_id(
            &plan.template.policy_snapshot_hash,
            &plan.params,
            &plan.trigger,
            noted.checked_sub(1)?,
        );
        (self.manifest_path(&below).exists() || self.plan_path(&below).exists()).then_some(noted)
    }

    /// Notes that every sequence number below `sequence` is taken for this plan's template,
    /// params and trigger (call under the lock, with the sequence [`Store::assign_free_run_id`]
    /// found). A note is a hint, not a record: it is renamed into place without an fsync, and a
    /// note lost or torn by a crash (a shorter number, or none) only makes the next probe start
    /// lower.
    pub fn note_sequence(&self, plan: &Plan, sequence: u64) -> Result<()> {
        if sequence == 0 || self.noted_sequence(plan) == Some(sequence) {
            return Ok(());
        }
        self.check_links()?;
        let dir = self.dir.join("plans");
        std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
        let path = self.sequence_note(plan);
        let swap = dir.join(format!(
            "{}.swap",
            path.file_name().and_then(|n| n.to_str()).unwrap_or(".next")
        ));
        let write = || -> std::io::Result<()> {
            let _ = std::fs::remove_file(&swap);
            let mut file = guard::create_nofollow(&swap, false)?;
            std::io::Write::write_all(&mut file, sequence.to_string().as_bytes())?;
            std::fs::rename(&swap, &path)
        };
        write().map_err(|source| Error::Write { path, source })
    }

    /// Removes every sequence note (`jobs gc` does, when it removes runs: a sequence below a
    /// note may be free again). Call under the lock.
    pub fn forget_sequences(&self) {
        if let Ok(entries) = std::fs::read_dir(self.dir.join("plans")) {
            for entry in entries.filter_map(|e| e.ok()) {
                if entry.file_name().to_string_lossy().starts_with(".next-") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }

    /// The initial manifest of a plan.
    pub fn initial_manifest(&self, plan: &Plan, created_at: &str) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            run_id: plan.run_id.clone(),
            template: Some(plan.template.clone()),
            params: plan.params.clone(),
            trigger: plan.trigger.clone(),
            created_at: created_at.to_owned(),
            finished_at: None,
            outcome: None,
            nodes: plan
                .nodes
                .iter()
                .map(|n| ManifestNode {
                    node_id: n.node_id.clone(),
                    job_id: n.job_id.clone(),
                    class: n.class.clone(),
                    executor_class: n.executor_class.clone(),
                    executor_operation: n.executor_operation.clone(),
                    control_policy: n.control_policy.clone(),
                    after: n
                        .deps
                        .iter()
                        .map(|d| plan.nodes[d.node].job_id.clone())
                        .collect(),
                    status: Status::Queued,
                    attempts: 1,
                    stdout: self.log_rel(&n.job_id, "stdout"),
                    stderr: self.log_rel(&n.job_id, "stderr"),
                    stage: n.stage.clone(),
                    metadata: [("execution_root".to_owned(), json!("."))].into(),
                    ..ManifestNode::default()
                })
                .collect(),
            requeues: 0,
            driver: None,
            after_runs: plan.after_runs.clone(),
            followed_by: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Writes every job record, the plan and the manifest of a new run. Call under the lock.
    ///
    /// All-or-nothing: the `active/<run_id>` marker is made first and the manifest is renamed into
    /// place last, so at every instant the run is either invisible (no manifest) or visible and
    /// active. A marker without a manifest is a materialization that never finished: if this one
    /// fails it is undone here, and if the process dies the next tick undoes it
    /// ([`Store::discard_unmaterialized`]).
    pub fn materialize(&self, plan: &Plan, manifest: &Manifest) -> Result<()> {
        let result = self.materialize_inner(plan, manifest);
        if result.is_err() {
            let _ = std::fs::remove_file(self.manifest_path(&plan.run_id));
            for node in &plan.nodes {
                if self.check_job_dir(&node.job_id).is_ok() {
                    let _ = std::fs::remove_dir_all(self.job_dir(&node.job_id));
                }
            }
            let _ = std::fs::remove_file(self.plan_path(&plan.run_id));
            let _ = std::fs::remove_dir_all(self.outputs_index_dir(&plan.run_id));
            let _ = self.set_active(&plan.run_id, false);
        }
        result
    }

    fn materialize_inner(&self, plan: &Plan, manifest: &Manifest) -> Result<()> {
        check_plan(plan, &plan.run_id).map_err(|e| corrupt(&self.plan_path(&plan.run_id), e))?;
        self.check_links()?;
        self.set_active(&plan.run_id, true)?;
        // The run's outputs index starts empty: no job has published outputs yet.
        let index = self.outputs_index_dir(&plan.run_id);
        std::fs::create_dir_all(&index).map_err(|source| Error::Write {
            path: index.clone(),
            source,
        })?;
        let mut batch = Batch::default();
        for (i, node) in plan.nodes.iter().enumerate() {
            self.check_job_dir(&node.job_id)?;
            let dir = self.job_dir(&node.job_id);
            std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            for stream in ["stdout.log", "stderr.log"] {
                let path = dir.join(stream);
                guard::create_nofollow(&path, false)
                    .map_err(|source| Error::Write { path, source })?;
            }
            let record = self.job_record(plan, i, manifest);
            batch.add(&self.job_path(&node.job_id), to_json(&record));
        }
        batch.add(&self.plan_path(&plan.run_id), to_json_compact(plan));
        // The manifest goes last: once it exists, the run exists.
        batch.add(&self.manifest_path(&plan.run_id), to_json_compact(manifest));
        batch.commit_with(|i| {
            if i + 1 == plan.nodes.len() + 2 {
                failpoint("materialize-before-manifest");
            }
        })
    }

    /// Undoes a materialization that never finished (an active marker without a manifest): its
    /// job folders, its plan, then the marker. Call under the lock.
    pub fn discard_unmaterialized(&self, run_id: &str) -> Result<()> {
        if !ids::is_run_id(run_id) || self.manifest_path(run_id).exists() {
            return Ok(());
        }
        for job_id in self.job_ids() {
            if ids::is_job_of(run_id, &job_id) && self.check_job_dir(&job_id).is_ok() {
                let dir = self.job_dir(&job_id);
                if let Err(source) = std::fs::remove_dir_all(&dir)
                    && source.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(Error::Write { path: dir, source });
                }
            }
        }
        let plan = self.plan_path(run_id);
        if let Err(source) = std::fs::remove_file(&plan)
            && source.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::Write { path: plan, source });
        }
        self.remove_swaps(run_id);
        let _ = std::fs::remove_dir_all(self.outputs_index_dir(run_id));
        self.set_active(run_id, false)
    }

    /// Removes the swap files beside a run's manifest and plan (what an interrupted or finished
    /// atomic write leaves; see `atomic.rs`).
    pub fn remove_swaps(&self, run_id: &str) {
        for dir in ["runs", "plans"] {
            let _ = std::fs::remove_file(self.dir.join(dir).join(format!(".{run_id}.json.swap")));
        }
    }

    /// Whether a run is being materialized right now (or its materialization died): marked
    /// active, but without a manifest yet. Its job folders are not part of the store yet.
    pub fn is_materializing(&self, run_id: &str) -> bool {
        ids::is_run_id(run_id)
            && self.active_dir().join(run_id).exists()
            && !self.manifest_path(run_id).exists()
    }

    /// Writes the records of the jobs `changed` (indexes into the plan) and the manifest in one
    /// batch, manifest last; refuses a job folder that is a link leaving the repository.
    pub fn write_changes(&self, plan: &Plan, m: &Manifest, changed: &[usize]) -> Result<()> {
        let mut batch = Batch::default();
        for &i in changed {
            self.check_job_dir(&plan.nodes[i].job_id)?;
            let record = self.job_record(plan, i, m);
            batch.add(&self.job_path(&plan.nodes[i].job_id), to_json(&record));
        }
        batch.add(&self.manifest_path(&m.run_id), to_json_compact(m));
        batch.commit()
    }

    /// The outcome of `attempt` as the job's record tells it, when the record says that attempt
    /// ended (its status is terminal). The keys [`Store::job_record`] derives from the plan and
    /// the manifest are left out of the metadata: only what the job itself reported is kept.
    pub fn recorded_outcome(&self, job_id: &str, attempt: u32) -> Option<OutcomeFile> {
        let record = self.read_job(job_id).ok()?;
        let meta = &record.metadata;
        let ended = Status::parse(&record.status).is_some_and(|s| s.is_terminal());
        if !ended || meta.get("workflow_node_attempt")?.as_u64()? != u64::from(attempt) {
            return None;
        }
        let outcome = serde_json::from_value(meta.get("workflow_node_outcome")?.clone()).ok()?;
        Some(OutcomeFile {
            job_id: job_id.to_owned(),
            attempt,
            outcome,
            exit_code: record.exit_code,
            started_at: record.started_at,
            finished_at: record.finished_at,
            message: record.reason,
            metadata: record
                .metadata
                .into_iter()
                .filter(|(k, v)| reported(k, v))
                .collect(),
        })
    }

    /// The job record of node `index`, from the plan and the manifest's current state. Its
    /// metadata holds [`RECORD_KEYS`] and then the node's own metadata from the manifest.
    pub fn job_record(&self, plan: &Plan, index: usize, manifest: &Manifest) -> JobRecord {
        let node: &PlanNode = &plan.nodes[index];
        let state = &manifest.nodes[index];
        let mut metadata: BTreeMap<String, Value> = BTreeMap::new();
        metadata.insert("workflow_run_id".into(), json!(plan.run_id));
        metadata.insert("workflow_template_id".into(), json!(plan.template.id));
        metadata.insert(
            "workflow_template_version".into(),
            json!(plan.template.version),
        );
        metadata.insert("workflow_node_id".into(), json!(node.node_id));
        metadata.insert("workflow_node_attempt".into(), json!(state.attempts));
        if let Some(outcome) = state.outcome {
            metadata.insert("workflow_node_outcome".into(), json!(outcome));
        }
        if let Some(class) = &node.executor_class {
            metadata.insert("workflow_executor_class".into(), json!(class));
        }
        if let Some(op) = &node.executor_operation {
            metadata.insert("workflow_executor_operation".into(), json!(op));
        }
        if let Some(policy) = &node.control_policy {
            metadata.insert("workflow_control_policy".into(), json!(policy));
        }
        metadata.insert(
            "workflow_policy_snapshot_hash".into(),
            json!(plan.template.policy_snapshot_hash),
        );
        metadata.insert("workflow_gates".into(), json!(node.gates));
        metadata.insert("workflow_payload_refs".into(), json!([]));
        for (k, v) in &state.metadata {
            metadata.insert(k.clone(), v.clone());
        }
        JobRecord {
            format_version: JOB_FORMAT,
            job_id: node.job_id.clone(),
            status: state.status.as_str().to_owned(),
            command: vec![
                "vizier".into(),
                "__workflow-node".into(),
                "--job-id".into(),
                node.job_id.clone(),
            ],
            created_at: Some(manifest.created_at.clone()),
            started_at: state.started_at.clone(),
            finished_at: state.finished_at.clone(),
            exit_code: state.exit_code,
            pid: state.process.as_ref().map(|p| p.pid),
            reason: state.reason.clone(),
            approval: state.approval.clone(),
            schedule: Schedule {
                after: state.after.clone(),
                wait_reason: state.wait_reason.clone(),
                waited_on: state.waited_on.clone(),
                locks: node.locks.clone(),
            },
            spec: Some(
                serde_json::to_value(JobSpec {
                    run_id: plan.run_id.clone(),
                    alias: plan.alias.clone(),
                    template_id: plan.template.id.clone(),
                    env: plan.script_env(),
                    node: node.clone(),
                })
                .expect("job spec serializes"),
            ),
            metadata,
            extra: BTreeMap::new(),
        }
    }

    /// Every manifest in `runs/`, newest first by creation time; unreadable ones come back as
    /// `(path, error)` so callers can name and skip them.
    pub fn all_manifests(&self) -> (Vec<Manifest>, Vec<(String, String)>) {
        let dir = self.dir.join("runs");
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return (good, bad);
        };
        let entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
        delay_point("read-after-listing", 400);
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(run_id) = name.strip_suffix(".json") else {
                continue;
            };
            if run_id.starts_with('.') {
                continue; // a swap file
            }
            match self.load_manifest(run_id) {
                Ok(Some(m)) => good.push(m),
                // Removed since the folder was listed (`jobs gc`): gone, not corrupt.
                Ok(None) => {}
                Err(Error::Corrupt { message, .. }) => {
                    bad.push((path.display().to_string(), format!("corrupt: {message}")))
                }
                // Skipped and named like a corrupt one: this vizier cannot tell what it says.
                Err(Error::NewerRecord {
                    version, supported, ..
                }) => bad.push((
                    path.display().to_string(),
                    format!(
                        "written by a newer vizier (version {version}; this vizier reads up to version {supported})"
                    ),
                )),
                Err(e) => bad.push((
                    path.display().to_string(),
                    std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string()),
                )),
            }
        }
        good.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.run_id.cmp(&b.run_id))
        });
        (good, bad)
    }

    /// Job folder names (job ids), in the order the directory lists them.
    pub fn job_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !matches!(n.as_str(), "runs" | "plans" | "active" | "artifacts"))
            .collect();
        // In no particular order: sorting every folder name costs more than the rest of
        // `jobs list` reads (10,000 ids, string compares on a 21-byte common prefix).
        ids
    }
}

/// What a job's process needs to run, stored in its record so it never loads the whole plan.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct JobSpec {
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub template_id: String,
    /// `VIZIER_*` variables of the run (params, trigger), never the runner's own environment.
    pub env: Vec<(String, String)>,
    pub node: PlanNode,
}

impl Store {
    /// The spec of a job, from its record.
    pub fn job_spec(&self, job_id: &str) -> Result<JobSpec> {
        let record = self.read_job(job_id)?;
        let spec = record.spec.ok_or_else(|| Error::Corrupt {
            path: self.job_path(job_id).display().to_string(),
            message: "the record has no `spec` (written by an older vizier?)".into(),
        })?;
        let spec: JobSpec = serde_json::from_value(spec).map_err(|e| Error::Corrupt {
            path: self.job_path(job_id).display().to_string(),
            message: e.to_string(),
        })?;
        if let Some(a) = spec
            .node
            .needs
            .iter()
            .chain(&spec.node.produces)
            .find(|a| !is_path_part(&a.type_id) || !is_path_part(&a.key))
        {
            return Err(corrupt(
                &self.job_path(job_id),
                format!(
                    "its spec names artifact `{}:{}`, which cannot be a folder name",
                    a.type_id, a.key
                ),
            ));
        }
        if !ids::is_job_of(&spec.run_id, job_id) || spec.node.job_id != job_id {
            return Err(corrupt(
                &self.job_path(job_id),
                format!(
                    "its spec names run `{}` and job `{}`, not this job",
                    spec.run_id, spec.node.job_id
                ),
            ));
        }
        Ok(spec)
    }
}

/// Compact JSON with a trailing newline, for large records (manifests, plans).
pub fn to_json_compact(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).expect("records serialize");
    bytes.push(b'\n');
    bytes
}

/// Pretty JSON with a trailing newline.
pub fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("records serialize");
    bytes.push(b'\n');
    bytes
}

/// A record's bytes, read only if it is a regular file: anything else (a FIFO, a device) is a
/// corrupt record, never waited on; a failure to read is an I/O error naming the path.
fn read_record_bytes(path: &Path) -> Result<Vec<u8>> {
    guard::read_regular(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Other {
            corrupt(path, e.to_string())
        } else {
            io_read(path)(e)
        }
    })
}

fn corrupt(path: &Path, message: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// A name that may be a folder of the store: a job id, or the single-name id of an older
/// version's record (letters, digits, `.`, `_`, `-`, not starting with `.`).
pub fn is_store_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Whether `s` can be one folder name (an artifact type or key): not empty, not `.` or `..`, no
/// separator and no NUL.
pub fn is_path_part(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

/// A manifest's ids obey the grammar: its run id is the one of its file name, and every node's job
/// id belongs to that run.
pub fn check_manifest(m: &Manifest, run_id: &str) -> std::result::Result<(), String> {
    if m.run_id != run_id {
        return Err(format!(
            "its run_id `{}` is not the run of its file name (`{run_id}`)",
            m.run_id
        ));
    }
    for n in &m.nodes {
        if !ids::is_job_of(run_id, &n.job_id) {
            return Err(format!(
                "node `{}` has job_id `{}`, which is not a job id of run {run_id}",
                n.node_id, n.job_id
            ));
        }
    }
    Ok(())
}

/// A plan's ids obey the grammar and its indexes stay in bounds.
pub fn check_plan(plan: &Plan, run_id: &str) -> std::result::Result<(), String> {
    if plan.run_id != run_id {
        return Err(format!(
            "its run_id `{}` is not the run of its file name (`{run_id}`)",
            plan.run_id
        ));
    }
    let len = plan.nodes.len();
    for n in &plan.nodes {
        if !ids::is_job_of(run_id, &n.job_id) {
            return Err(format!(
                "node `{}` has job_id `{}`, which is not a job id of run {run_id}",
                n.node_id, n.job_id
            ));
        }
        if let Some(d) = n.deps.iter().find(|d| d.node >= len) {
            return Err(format!(
                "node `{}` depends on node #{} of {len}",
                n.node_id, d.node
            ));
        }
        if let Some(a) = n
            .needs
            .iter()
            .chain(&n.produces)
            .find(|a| !is_path_part(&a.type_id) || !is_path_part(&a.key))
        {
            return Err(format!(
                "node `{}` names artifact `{}:{}`, which cannot be a folder name",
                n.node_id, a.type_id, a.key
            ));
        }
        if let Some(l) = n.loops.iter().find(|l| l.target >= len) {
            return Err(format!(
                "node `{}` loops back to node #{} of {len}",
                n.node_id, l.target
            ));
        }
    }
    Ok(())
}

/// A manifest fits its plan: the same nodes, in the same order. A manifest that does not is
/// corrupt (scheduling it would index past its end).
pub fn check_run(plan: &Plan, m: &Manifest) -> std::result::Result<(), String> {
    if plan.nodes.len() != m.nodes.len() {
        return Err(format!(
            "it has {} node(s) but the run's plan has {}",
            m.nodes.len(),
            plan.nodes.len()
        ));
    }
    if let Some((p, n)) = plan
        .nodes
        .iter()
        .zip(&m.nodes)
        .find(|(p, n)| p.job_id != n.job_id)
    {
        return Err(format!(
            "its job `{}` is `{}` in the run's plan",
            n.job_id, p.job_id
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job record as a foreign or hand-edited store might hold it.
    fn store_with_record(record: &str) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let job = store.job_dir("run-0123456789abcdef-a");
        std::fs::create_dir_all(&job).unwrap();
        std::fs::write(job.join("job.json"), record).unwrap();
        (dir, store)
    }

    #[test]
    fn a_recorded_outcome_keeps_what_the_job_reported_and_only_for_its_attempt() {
        let record = r#"{"format_version":1,"job_id":"run-0123456789abcdef-a","status":"succeeded",
            "exit_code":0,"started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z",
            "reason":"done","metadata":{"workflow_node_attempt":2,"workflow_node_outcome":"succeeded",
            "workflow_run_id":"run-0123456789abcdef","workflow_gates":[],
            "workflow_payload_refs":[".vizier/jobs/artifacts/data/p"],"execution_root":"."}}"#;
        let (_dir, store) = store_with_record(record);
        let job = "run-0123456789abcdef-a";
        let outcome = store.recorded_outcome(job, 2).expect("attempt 2 ended");
        assert_eq!(outcome.outcome, crate::template::Outcome::Succeeded);
        assert_eq!(outcome.exit_code, Some(0));
        assert_eq!(outcome.message.as_deref(), Some("done"));
        assert_eq!(outcome.finished_at.as_deref(), Some("2026-01-01T00:00:01Z"));
        let keys: Vec<&str> = outcome.metadata.keys().map(String::as_str).collect();
        assert_eq!(keys, ["execution_root", "workflow_payload_refs"]);
        assert_eq!(store.recorded_outcome(job, 1), None, "another attempt");
        // Derived empty payload references are not the job's.
        let (_dir, store) =
            store_with_record(&record.replace(r#"[".vizier/jobs/artifacts/data/p"]"#, "[]"));
        let outcome = store.recorded_outcome(job, 2).unwrap();
        assert!(!outcome.metadata.contains_key("workflow_payload_refs"));
    }

    #[test]
    fn a_record_that_does_not_say_the_attempt_ended_gives_no_outcome() {
        let job = "run-0123456789abcdef-a";
        for record in [
            r#"{"status":"running","metadata":{"workflow_node_attempt":1}}"#,
            r#"{"status":"succeeded","metadata":{"workflow_node_attempt":1}}"#,
            r#"{"status":"succeeded","metadata":{"workflow_node_outcome":"succeeded"}}"#,
            r#"{"status":"no such status","metadata":{"workflow_node_attempt":1,"workflow_node_outcome":"succeeded"}}"#,
            r#"{"status":"succeeded","metadata":{"workflow_node_attempt":"1","workflow_node_outcome":"succeeded"}}"#,
            "",
            "{",
        ] {
            let (_dir, store) = store_with_record(record);
            assert_eq!(store.recorded_outcome(job, 1), None, "{record}");
        }
    }
}
