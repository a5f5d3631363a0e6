//! The records on disk: run manifests, job records, outcome files.
//!
//! What vizier writes is strict and versioned; what it reads is tolerant: every field has a default
//! and unknown fields are kept, so records from older versions still load and a rewrite loses
//! nothing another version wrote. A manifest of a newer `version` is refused by name, not misread.

use std::collections::BTreeMap;

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time;
use crate::compile::{TemplateRef, Trigger};
use crate::error::{Error, Result};
use crate::template::Outcome;

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

impl From<Outcome> for Status {
    /// The status a job ends in when its process recorded `outcome`.
    fn from(outcome: Outcome) -> Status {
        match outcome {
            Outcome::Succeeded => Status::Succeeded,
            Outcome::Failed => Status::Failed,
            Outcome::Blocked => Status::Blocked,
        }
    }
}

/// How a run ended (the manifest's `outcome`): `succeeded` when no node ended badly and every
/// terminal succeeded or was skipped, else `failed`. A job's outcome is [`Outcome`]; a CI
/// invocation's is `ci::CiOutcome`, which adds `skipped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Succeeded,
    Failed,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    pub state: ApprovalState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

/// A person's decision on an approval gate (`vizier jobs approve` / `reject`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Approved,
    /// Also what a record that does not say reads as: nothing says it was approved.
    #[default]
    Rejected,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A running job's process: pid plus its start time, so a reused pid is not mistaken for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    #[serde(default)]
    pub start_ticks: u64,
}

/// One node's entry in the manifest: the scheduling truth for that job.
///
/// Read tolerantly: a missing or `null` field takes its default and a field this vizier does not
/// know is kept in `extra` and written back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManifestNode {
    #[serde(deserialize_with = "or_default")]
    pub node_id: String,
    #[serde(deserialize_with = "or_default")]
    pub job_id: String,
    #[serde(deserialize_with = "or_default")]
    pub class: String,
    pub executor_class: Option<String>,
    pub executor_operation: Option<String>,
    pub control_policy: Option<String>,
    #[serde(deserialize_with = "or_default")]
    pub after: Vec<String>,
    #[serde(deserialize_with = "or_default")]
    pub status: Status,
    /// What its process recorded for the last finished attempt.
    pub outcome: Option<Outcome>,
    #[serde(deserialize_with = "or_default")]
    pub attempts: u32,
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    #[serde(deserialize_with = "or_default")]
    pub stdout: String,
    #[serde(deserialize_with = "or_default")]
    pub stderr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_reason: Option<WaitReason>,
    #[serde(deserialize_with = "or_default", skip_serializing_if = "Vec::is_empty")]
    pub waited_on: Vec<String>,
    /// Why it ended as it did, when that is not just an exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Loop-backs this node has taken as their source.
    #[serde(deserialize_with = "or_default", skip_serializing_if = "is_zero")]
    pub loops: u32,
    /// Re-queued by a person (`vizier jobs retry`): exempt from `block_downstream` until it
    /// runs again by any other route.
    #[serde(
        deserialize_with = "or_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub person_retry: bool,
    /// Metadata the operation recorded (execution root, payload refs, agent command, …).
    #[serde(
        deserialize_with = "or_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, Value>,
    /// Fields written by another version of vizier, kept as they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ManifestNode {
    /// Seconds from start to finish, when both are known and in order.
    pub fn duration_secs(&self) -> Option<f64> {
        time::elapsed(self.started_at.as_deref(), self.finished_at.as_deref())
    }

    /// The CI job that ran the node, when the run was fanned out over many runners.
    pub fn runner(&self) -> Option<&str> {
        self.metadata.get("ci_runner").and_then(|v| v.as_str())
    }
}

/// `null` reads as the default; anything else must have the field's type.
fn or_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `.vizier/jobs/runs/<run_id>.json`: the one model of a run manifest, for the scheduler, `jobs`,
/// the CI summary and mermaid alike.
///
/// Read by [`Manifest::parse`]: tolerant of what older versions wrote (missing or `null` fields
/// take their defaults, unknown fields are kept in `extra` and written back), and refusing, by
/// name, a manifest whose `version` is newer than [`MANIFEST_VERSION`].
///
/// `extra` is `#[serde(flatten)]`: the derived reader reads known fields in place and buffers only
/// the unknown ones, so keeping them costs a manifest without unknown fields about 1% (measured
/// with callgrind on `jobs cancel` in a 5,000-node run; a hand-written reader was no cheaper).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    #[serde(deserialize_with = "or_default")]
    pub version: u32,
    #[serde(deserialize_with = "or_default")]
    pub run_id: String,
    pub template: Option<TemplateRef>,
    #[serde(deserialize_with = "or_default")]
    pub params: BTreeMap<String, String>,
    #[serde(deserialize_with = "or_default")]
    pub trigger: Trigger,
    #[serde(deserialize_with = "or_default")]
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Set once the run ended; absent while it runs.
    pub outcome: Option<RunOutcome>,
    #[serde(deserialize_with = "or_default")]
    pub nodes: Vec<ManifestNode>,
    /// Loop-back re-queues so far, bounded by the policy's `max_requeues`.
    #[serde(deserialize_with = "or_default", skip_serializing_if = "is_zero")]
    pub requeues: u32,
    /// The foreground `vizier run` driving this run, while it lives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<ProcessId>,
    /// Runs this run's entry nodes wait for (`vizier run --after`).
    #[serde(deserialize_with = "or_default", skip_serializing_if = "Vec::is_empty")]
    pub after_runs: Vec<String>,
    /// Runs started with `--after` this run: they wait for it.
    #[serde(deserialize_with = "or_default", skip_serializing_if = "Vec::is_empty")]
    pub followed_by: Vec<String>,
    /// Fields written by another version of vizier, kept as they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Manifest {
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// Reads a manifest's bytes; `path` names it in errors. A manifest of a newer `version` is
    /// [`Error::NewerRecord`] (also when the rest of it does not read), anything else that does
    /// not read is [`Error::Corrupt`].
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest> {
        let newer = |version: u64| Error::NewerRecord {
            path: path.display().to_string(),
            version,
            supported: u64::from(MANIFEST_VERSION),
        };
        match serde_json::from_slice::<Manifest>(bytes) {
            Ok(m) if m.version > MANIFEST_VERSION => Err(newer(u64::from(m.version))),
            Ok(m) => Ok(m),
            Err(e) => {
                #[derive(Deserialize)]
                struct Version {
                    #[serde(default)]
                    version: Value,
                }
                match serde_json::from_slice::<Version>(bytes) {
                    Ok(Version { version })
                        if version
                            .as_u64()
                            .is_some_and(|v| v > u64::from(MANIFEST_VERSION)) =>
                    {
                        Err(newer(version.as_u64().unwrap_or_default()))
                    }
                    _ => Err(Error::Corrupt {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    }),
                }
            }
        }
    }

    /// Reads the manifest at `path` (any path: the store's, or a copy in CI artifacts).
    pub fn load(path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Manifest::parse(&bytes, path)
    }

    /// Whether the run ended `succeeded`.
    pub fn succeeded(&self) -> bool {
        self.outcome == Some(RunOutcome::Succeeded)
    }

    /// The outcome to show: the recorded one, else `running`.
    pub fn outcome_text(&self) -> &'static str {
        self.outcome.map_or("running", RunOutcome::as_str)
    }

    /// Seconds from creation to finish, when both are known.
    pub fn duration_secs(&self) -> Option<f64> {
        time::elapsed(Some(&self.created_at), self.finished_at.as_deref())
    }
}

/// What a finished job's process leaves behind: `.vizier/jobs/<job_id>/outcome.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutcomeFile {
    pub job_id: String,
    pub attempt: u32,
    /// Absent reads as `failed`: nothing says the job succeeded.
    pub outcome: Outcome,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(text.as_bytes(), Path::new("runs/run-x.json"))
    }

    #[test]
    fn a_full_manifest_reads_with_its_durations_and_runner() {
        let m = parse(
            r#"{"version":1,"run_id":"run-0123456789abcdef",
            "template":{"id":"template.ci","version":"v1","path":".vizier/workflow/ci.toml","policy_snapshot_hash":"abc"},
            "params":{"target":"main"},
            "trigger":{"kind":"push","sha":"1111111111111111111111111111111111111111","ref":"refs/heads/main","before":null,"changed_paths":["a.rs"]},
            "created_at":"2026-01-02T03:04:05Z","finished_at":"2026-01-02T03:04:35.5Z","outcome":"failed",
            "nodes":[{"node_id":"fmt","job_id":"run-0123456789abcdef-fmt","class":"executor","executor_class":"environment.shell",
              "executor_operation":"cicd.run","control_policy":null,"after":[],"status":"failed","outcome":"failed",
              "attempts":1,"exit_code":1,"started_at":"2026-01-02T03:04:06Z","finished_at":"2026-01-02T03:04:09.25Z",
              "stdout":".vizier/jobs/run-0123456789abcdef-fmt/stdout.log","stderr":".vizier/jobs/run-0123456789abcdef-fmt/stderr.log",
              "metadata":{"ci_runner":"part-2"}}]}"#,
        )
        .unwrap();
        assert_eq!(m.template.as_ref().unwrap().id, "template.ci");
        assert_eq!(m.trigger.ref_name, "refs/heads/main");
        assert_eq!(m.trigger.changed_paths, ["a.rs"]);
        assert_eq!(m.duration_secs(), Some(30.5));
        assert!(!m.succeeded());
        let n = &m.nodes[0];
        assert_eq!(
            (n.status, n.exit_code, n.attempts),
            (Status::Failed, Some(1), 1)
        );
        assert_eq!(n.duration_secs(), Some(3.25));
        assert_eq!(n.runner(), Some("part-2"));
        assert!(m.extra.is_empty() && n.extra.is_empty());
    }

    #[test]
    fn missing_and_null_fields_take_their_defaults() {
        let m = parse(
            r#"{"run_id":"run-x","nodes":[{"node_id":"a","after":null,"attempts":null,"status":null,"stdout":null,"metadata":null},{}],"params":null,"outcome":null}"#,
        )
        .unwrap();
        assert_eq!(m.version, 0);
        assert_eq!(m.outcome_text(), "running");
        assert_eq!(m.nodes[0].status, Status::Queued);
        assert!(m.nodes[0].after.is_empty());
        assert_eq!(m.nodes[1].node_id, "");
        assert_eq!(m.nodes[0].duration_secs(), None);
    }

    #[test]
    fn unknown_fields_survive_a_rewrite_at_the_top_and_in_a_node() {
        let m = parse(
            r#"{"version":1,"run_id":"run-x","future_top":{"a":[1,2]},"nodes":[{"node_id":"a","job_id":"run-x-a","future_node":"kept"}]}"#,
        )
        .unwrap();
        assert_eq!(m.extra["future_top"], serde_json::json!({"a": [1, 2]}));
        let text = serde_json::to_string(&m).unwrap();
        let again = parse(&text).unwrap();
        assert_eq!(again.extra["future_top"], serde_json::json!({"a": [1, 2]}));
        assert_eq!(again.nodes[0].extra["future_node"], "kept");
        assert_eq!(again, m);
    }

    #[test]
    fn a_newer_version_is_refused_by_name_not_misread() {
        for text in [
            r#"{"version":2,"run_id":"run-x","nodes":[]}"#,
            // A newer format need not read as this one at all.
            r#"{"version":7,"run_id":"run-x","nodes":{"a":{}}}"#,
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                matches!(err, Error::NewerRecord { supported: 1, .. }),
                "{err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.starts_with("`runs/run-x.json` was written by a newer vizier: its version is "),
                "{msg}"
            );
            assert!(msg.ends_with("this vizier reads up to version 1"), "{msg}");
        }
        let err = parse(r#"{"version":1,"nodes":"x"}"#).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("`runs/run-x.json` is corrupt: "),
            "{err}"
        );
        let err = Manifest::load(Path::new("/nonexistent/run.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/run.json"), "{err}");
    }

    #[test]
    fn what_vizier_writes_reads_back_byte_for_byte() {
        let text = r#"{"version":1,"run_id":"run-x","template":{"id":"t","version":"v1","path":"p","policy_snapshot_hash":"h"},"params":{},"trigger":{"kind":"local","sha":"s","ref":"refs/heads/main"},"created_at":"c","finished_at":null,"outcome":null,"nodes":[{"node_id":"a","job_id":"run-x-a","class":"executor","executor_class":null,"executor_operation":null,"control_policy":null,"after":[],"status":"queued","outcome":null,"attempts":1,"exit_code":null,"started_at":null,"finished_at":null,"stdout":"o","stderr":"e","loops":2,"metadata":{"execution_root":"."}}],"requeues":1}"#;
        let m = parse(text).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), text);
    }

    /// Records captured from the binary before lock modes, failure modes, outcomes and statuses
    /// were enums in the code (`tests/records/v1/`): they load, and write back byte for byte.
    #[test]
    fn records_of_the_string_typed_version_load_and_write_back_byte_for_byte() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/records/v1");
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        let plan: crate::compile::Plan = serde_json::from_slice(&read("plan.json")).unwrap();
        assert_eq!(super::super::to_json_compact(&plan), read("plan.json"));
        let m = Manifest::parse(&read("manifest.json"), Path::new("manifest.json")).unwrap();
        assert_eq!(super::super::to_json_compact(&m), read("manifest.json"));
        for node in ["work", "stop", "bad"] {
            let job: JobRecord =
                serde_json::from_slice(&read(&format!("job-{node}.json"))).unwrap();
            assert!(job.extra.is_empty(), "{:?}", job.extra);
            assert_eq!(
                super::super::to_json(&job),
                read(&format!("job-{node}.json"))
            );
            let outcome: OutcomeFile =
                serde_json::from_slice(&read(&format!("outcome-{node}.json"))).unwrap();
            assert_eq!(
                super::super::to_json(&outcome),
                read(&format!("outcome-{node}.json"))
            );
        }
    }

    /// Every enum the records carry is written as the word the string-typed version wrote: its
    /// `as_str`, which the template parser and the schemas use too.
    #[test]
    fn enums_serialize_as_their_words() {
        use crate::template::{FailureMode, GateKind, LockMode, RetryMode};
        fn word<T: Serialize>(v: T) -> String {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        }
        for v in Outcome::ALL {
            assert_eq!(word(v), v.as_str());
        }
        for v in [
            FailureMode::BlockDownstream,
            FailureMode::ContinueIndependent,
        ] {
            assert_eq!(word(v), v.as_str());
        }
        for v in [LockMode::Shared, LockMode::Exclusive] {
            assert_eq!(word(v), v.as_str());
        }
        for v in [
            GateKind::Approval,
            GateKind::Script,
            GateKind::Cicd,
            GateKind::Custom,
        ] {
            assert_eq!(word(v), v.as_str());
        }
        for v in [RetryMode::Never, RetryMode::OnFailure, RetryMode::UntilGate] {
            assert_eq!(word(v), v.as_str());
        }
        for v in [RunOutcome::Succeeded, RunOutcome::Failed] {
            assert_eq!(word(v), v.as_str());
        }
        for v in [ApprovalState::Approved, ApprovalState::Rejected] {
            assert_eq!(word(v), v.as_str());
        }
        for v in Status::ALL {
            assert_eq!(word(v), v.as_str());
        }
    }
}
