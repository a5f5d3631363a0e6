//! Operations and control policies: what a job does once the scheduler starts it.
//!
//! Dispatch matches the identity table's [`Op`] exhaustively, one file per operation, so there is no
//! second list of names.

mod agent_invoke;
mod build_materialize_step;
pub mod changed_files;
mod command_run;
mod context;
mod gate_approval;
mod gate_cicd;
mod gate_conflict_resolution;
mod gate_stop_condition;
mod git_cmd;
mod git_integrate_plan_branch;
mod git_save_worktree_patch;
mod git_stage_commit;
mod merge_sentinel;
mod patch_pipeline;
mod plan_persist;
mod prompt_resolve;
mod run_clean;
mod terminal;
mod worktree_cleanup;
mod worktree_prepare;

pub use git_cmd::{dirty_paths, log_to_stderr};
pub use run_clean::clean_run;
pub use worktree_cleanup::{Released, release_owned};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::compile::PlanNode;
use crate::store::{JobSpec, Store};
use crate::template::{Op, Outcome};

/// Everything an operation may use.
pub struct OpContext<'a> {
    pub store: &'a Store,
    /// The job's spec: run id, alias, the run's `VIZIER_*` variables and the compiled node.
    pub spec: &'a JobSpec,
    pub node: &'a PlanNode,
    pub attempt: u32,
    /// Where the job runs: the repository root or a worktree inside it.
    pub execution_root: PathBuf,
    /// `VIZIER_*` variables for scripts.
    pub env: Vec<(String, String)>,
    /// The run's params and the outputs of upstream nodes, for prompt files.
    pub inputs: Option<&'a crate::outputs::Inputs>,
}

impl OpContext<'_> {
    /// The script of the node's `cicd` gate (CI that must pass), when it has a non-blank one.
    pub fn cicd_gate_script(&self) -> Option<&str> {
        self.node
            .gates
            .iter()
            .find(|g| g.kind == crate::template::GateKind::Cicd)
            .and_then(|g| g.script.as_deref())
            .filter(|s| !s.trim().is_empty())
    }

    pub fn arg(&self, name: &str) -> Option<&str> {
        self.node
            .args
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// Runs shell text in the execution root with the job's environment.
    pub fn shell(&self, text: &str) -> Result<i32, String> {
        crate::process::run_shell(text, &self.execution_root, &self.env).map_err(|e| e.to_string())
    }
}

/// How an operation ended.
#[derive(Debug, Default)]
pub struct OpResult {
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
    pub metadata: BTreeMap<String, Value>,
    /// Outputs the operation publishes itself (an agent's `text`), besides `$VIZIER_OUTPUT`.
    pub outputs: BTreeMap<String, String>,
}

impl OpResult {
    pub fn succeeded() -> OpResult {
        OpResult {
            outcome: Outcome::Succeeded,
            ..OpResult::default()
        }
    }

    pub fn failed(message: impl Into<String>) -> OpResult {
        OpResult {
            outcome: Outcome::Failed,
            message: Some(message.into()),
            ..OpResult::default()
        }
    }

    /// From a script's exit code: 0 succeeded, anything else failed naming the code.
    pub fn from_exit(what: &str, code: i32) -> OpResult {
        OpResult {
            outcome: if code == 0 {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            },
            exit_code: Some(code),
            message: (code != 0).then(|| format!("{what} exited with code {code}")),
            ..OpResult::default()
        }
    }
}

/// An error and its causes on one line, for a node's message.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Runs the node's operation.
pub fn execute(ctx: &OpContext<'_>) -> OpResult {
    let Some(row) = ctx.node.identity() else {
        return OpResult::failed(format!("`{}` is not a canonical label", ctx.node.uses));
    };
    match row.op {
        Op::CommandRun | Op::CicdRun => command_run::run(ctx),
        Op::GateStopCondition => gate_stop_condition::run(ctx),
        Op::GateCicd => gate_cicd::run(ctx),
        Op::GateApproval => gate_approval::run(ctx),
        Op::Terminal => terminal::run(ctx),
        Op::PromptResolve => prompt_resolve::run(ctx),
        Op::AgentInvoke => agent_invoke::run(ctx),
        Op::WorktreePrepare => worktree_prepare::run(ctx),
        Op::WorktreeCleanup => worktree_cleanup::run(ctx),
        Op::PlanPersist => plan_persist::run(ctx),
        Op::GitStageCommit => git_stage_commit::run(ctx),
        Op::GitIntegratePlanBranch => git_integrate_plan_branch::run(ctx),
        Op::GitSaveWorktreePatch => git_save_worktree_patch::run(ctx),
        Op::PatchPipelinePrepare => patch_pipeline::run_prepare(ctx),
        Op::PatchExecutePipeline => patch_pipeline::run_execute(ctx),
        Op::PatchPipelineFinalize => patch_pipeline::run_finalize(ctx),
        Op::BuildMaterializeStep => build_materialize_step::run(ctx),
        Op::MergeSentinelWrite => merge_sentinel::run_write(ctx),
        Op::MergeSentinelClear => merge_sentinel::run_clear(ctx),
        Op::GateConflictResolution => gate_conflict_resolution::run(ctx),
    }
}

/// After a node's operation: collects and records its outputs into `result` (metadata `outputs`);
/// outputs that cannot be read, or are too large, fail the node.
pub fn finish_outputs(store: &Store, job_id: &str, attempt: u32, result: &mut OpResult) {
    match crate::outputs::collect(store, job_id, attempt, &result.outputs) {
        Ok(outputs) => {
            if !outputs.is_empty() {
                result
                    .metadata
                    .insert("outputs".into(), serde_json::json!(outputs));
            }
        }
        Err(message) => {
            let failed_before = result.outcome != Outcome::Succeeded;
            result.outcome = Outcome::Failed;
            result.message = Some(match result.message.take() {
                Some(before) if failed_before => format!("{before}; {message}"),
                _ => message,
            });
        }
    }
}
