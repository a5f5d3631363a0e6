//! The records on disk: run manifests, job records, outcome files.
//!
//! What vizier writes is strict and versioned; what it reads is tolerant: every field has a default
//! and unknown fields are kept, so records from older and newer versions still load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::{TemplateRef, Trigger};

pub const MANIFEST_VERSION: u32 = 1;
pub const JOB_FORMAT: u32 = 1;

/// Job statuses.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Queued,
    WaitingOnDeps,
    WaitingOnApproval,
    WaitingOnLocks,
    Running,
    Succeeded,
    Failed,
    Blocked,
    Skipped,
    Cancelled,
    BlockedByDependency,
    BlockedByApproval,
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::Queued,
        Status::WaitingOnDeps,
        Status::WaitingOnApproval,
        Status::WaitingOnLocks,
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::Blocked,
        Status::Skipped,
        Status::Cancelled,
        Status::BlockedByDependency,
        Status::BlockedByApproval,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::WaitingOnDeps => "waiting_on_deps",
            Status::WaitingOnApproval => "waiting_on_approval",
            Status::WaitingOnLocks => "waiting_on_locks",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Blocked => "blocked",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
            Status::BlockedByDependency => "blocked_by_dependency",
            Status::BlockedByApproval => "blocked_by_approval",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            Status::Queued
                | Status::WaitingOnDeps
                | Status::WaitingOnApproval
                | Status::WaitingOnLocks
                | Status::Running
        )
    }

    /// Ended in a way that makes the run fail.
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            Status::Failed
                | Status::Blocked
                | Status::BlockedByDependency
                | Status::BlockedByApproval
                | Status::Cancelled
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a job waits (`schedule.wait_reason`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitReason {
    pub kind: String,
    pub detail: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// `approved` or `rejected`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

/// A running job's process: pid plus its start time, so a reused pid is not mistaken for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    #[serde(default)]
    pub start_ticks: u64,
}

/// One node's entry in the manifest: the scheduling truth for that job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManifestNode {
    pub node_id: String,
    pub job_id: String,
    pub class: String,
    pub executor_class: Option<String>,
    pub executor_operation: Option<String>,
    pub control_policy: Option<String>,
    pub after: Vec<String>,
    pub status: Status,
    pub outcome: Option<String>,
    pub attempts: u32,
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub stdout: String,
    pub stderr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_reason: Option<WaitReason>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waited_on: Vec<String>,
    /// Why it ended as it did, when that is not just an exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Loop-backs this node has taken as their source.
    #[serde(skip_serializing_if = "is_zero")]
    pub loops: u32,
    /// Re-queued by a person (`vizier jobs retry`): exempt from `block_downstream` until it
    /// runs again by any other route.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub person_retry: bool,
    /// Metadata the operation recorded (execution root, payload refs, agent command, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `.vizier/jobs/runs/<run_id>.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub version: u32,
    pub run_id: String,
    pub template: Option<TemplateRef>,
    pub params: BTreeMap<String, String>,
    pub trigger: Trigger,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// `succeeded` / `failed` once the run ended; absent while it runs.
    pub outcome: Option<String>,
    pub nodes: Vec<ManifestNode>,
    /// Loop-back re-queues so far, bounded by the policy's `max_requeues`.
    #[serde(skip_serializing_if = "is_zero")]
    pub requeues: u32,
    /// The foreground `vizier run` driving this run, while it lives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<ProcessId>,
    /// Runs this run's entry nodes wait for (`vizier run --after`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_runs: Vec<String>,
    /// Runs started with `--after` this run: they wait for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followed_by: Vec<String>,
}

impl Manifest {
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }
}

/// What a finished job's process leaves behind: `.vizier/jobs/<job_id>/outcome.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutcomeFile {
    pub job_id: String,
    pub attempt: u32,
    /// `succeeded`, `failed` or `blocked`.
    pub outcome: String,
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub message: Option<String>,
    pub metadata: BTreeMap<String, Value>,
}

/// `.vizier/jobs/<job_id>/job.json`: the job's own record, written from the plan and the manifest.
///
/// Reading is tolerant: records from older versions (a legacy `workflow_capability_id`, missing
/// executor fields, unknown extra fields) load, and the extras are kept in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobRecord {
    pub format_version: u32,
    pub job_id: String,
    pub status: String,
    pub command: Vec<String>,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    pub schedule: Schedule,
    /// Everything a job was compiled from: op, resolved args, gates, locks, artifacts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
    pub metadata: BTreeMap<String, Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Schedule {
    pub after: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_reason: Option<WaitReason>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waited_on: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<crate::compile::PlanLock>,
}
