//! The job store under `.vizier/jobs/`: where records live, the scheduler
//! lock, atomic writes, materializing a run, and reading records back tolerantly.
//!
//! Layout: `<job_id>/{job.json,stdout.log,stderr.log,outcome.json,claim-<attempt>}`,
//! `runs/<run_id>.json` (manifest: the scheduling truth of a run), `plans/<run_id>.json` (the
//! compiled plan, immutable), `active/<run_id>` (a marker while the run is unfinished, so a tick
//! touches active runs only), `artifacts/…`, `scheduler.lock`.

mod atomic;
mod payload;
pub mod records;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub use atomic::{Batch, write_atomic};
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
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Write {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.dir.join("scheduler.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
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
            .filter(|n| n.starts_with("run-"))
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
            File::create(&path).map_err(|source| Error::Write { path, source })?;
        } else if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::Write { path, source: e });
        }
        Ok(())
    }

    pub fn load_manifest(&self, run_id: &str) -> Result<Option<Manifest>> {
        let path = self.manifest_path(run_id);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Corrupt {
                    path: path.display().to_string(),
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io_read(&path)(source)),
        }
    }

    pub fn load_plan(&self, run_id: &str) -> Result<Plan> {
        let path = self.plan_path(run_id);
        let bytes = std::fs::read(&path).map_err(io_read(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Reads any job record, old or new; a corrupt one is an error naming its path.
    pub fn read_job(&self, job_id: &str) -> Result<JobRecord> {
        let path = self.job_path(job_id);
        let bytes = std::fs::read(&path).map_err(io_read(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The first sequence number whose run id is not in the store yet.
    pub fn assign_free_run_id(&self, plan: &mut Plan) {
        let mut sequence = 0;
        loop {
            assign_run_id(plan, sequence);
            if !self.manifest_path(&plan.run_id).exists() && !self.plan_path(&plan.run_id).exists()
            {
                return;
            }
            sequence += 1;
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
        }
    }

    /// Writes every job record, the plan and the manifest of a new run. Call under the lock.
    /// All-or-nothing: if any write fails, everything written for the run is removed again.
    pub fn materialize(&self, plan: &Plan, manifest: &Manifest) -> Result<()> {
        let result = self.materialize_inner(plan, manifest);
        if result.is_err() {
            for node in &plan.nodes {
                let _ = std::fs::remove_dir_all(self.job_dir(&node.job_id));
            }
            let _ = std::fs::remove_file(self.plan_path(&plan.run_id));
            let _ = std::fs::remove_file(self.manifest_path(&plan.run_id));
            let _ = self.set_active(&plan.run_id, false);
        }
        result
    }

    fn materialize_inner(&self, plan: &Plan, manifest: &Manifest) -> Result<()> {
        let mut batch = Batch::default();
        for (i, node) in plan.nodes.iter().enumerate() {
            let dir = self.job_dir(&node.job_id);
            std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            for stream in ["stdout.log", "stderr.log"] {
                let path = dir.join(stream);
                File::create(&path).map_err(|source| Error::Write { path, source })?;
            }
            let record = self.job_record(plan, i, manifest);
            batch.add(&self.job_path(&node.job_id), to_json(&record));
        }
        batch.add(&self.plan_path(&plan.run_id), to_json_compact(plan));
        // The manifest goes last: once it exists, the run exists.
        batch.add(&self.manifest_path(&plan.run_id), to_json_compact(manifest));
        batch.commit()?;
        self.set_active(&plan.run_id, true)
    }

    /// The job record of node `index`, from the plan and the manifest's current state.
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
        if let Some(outcome) = &state.outcome {
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
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Manifest>(&b).map_err(|e| e.to_string()))
            {
                Ok(m) => good.push(m),
                Err(e) => bad.push((path.display().to_string(), e)),
            }
        }
        good.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.run_id.cmp(&b.run_id))
        });
        (good, bad)
    }

    /// Job folder names (job ids), sorted.
    pub fn job_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !matches!(n.as_str(), "runs" | "plans" | "active" | "artifacts"))
            .collect();
        ids.sort();
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
        serde_json::from_value(spec).map_err(|e| Error::Corrupt {
            path: self.job_path(job_id).display().to_string(),
            message: e.to_string(),
        })
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
