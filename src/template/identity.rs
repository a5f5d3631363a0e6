//! The canonical identity table: the one list of every `uses` label vizier accepts.
//!
//! Validation, compilation, the scheduler and `jobs show` all read this table; no other module keeps
//! a list of operation names. Anything not in it is rejected — there is no custom-command fallback.

use std::fmt;

/// The `kind` a node declares. It must agree with the class of its `uses` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Builtin,
    Shell,
    Agent,
    Gate,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Builtin, Kind::Shell, Kind::Agent, Kind::Gate];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Builtin => "builtin",
            Kind::Shell => "shell",
            Kind::Agent => "agent",
            Kind::Gate => "gate",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Executor classes and the control class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    EnvironmentBuiltin,
    EnvironmentShell,
    Agent,
    Control,
}

impl Class {
    /// The executor class as recorded in job metadata; `None` for control nodes.
    pub fn executor_class(self) -> Option<&'static str> {
        match self {
            Class::EnvironmentBuiltin => Some("environment.builtin"),
            Class::EnvironmentShell => Some("environment.shell"),
            Class::Agent => Some("agent"),
            Class::Control => None,
        }
    }

    /// `executor` or `control`.
    pub fn family(self) -> &'static str {
        match self {
            Class::Control => "control",
            _ => "executor",
        }
    }

    /// The `kind` a node of this class must declare.
    pub fn required_kind(self) -> Kind {
        match self {
            Class::EnvironmentBuiltin => Kind::Builtin,
            Class::EnvironmentShell => Kind::Shell,
            Class::Agent => Kind::Agent,
            Class::Control => Kind::Gate,
        }
    }

    /// Reads a class as older records spelled it (`environment_shell`) or as it is spelled now.
    pub fn parse_executor_class(s: &str) -> Option<Class> {
        match s.replace('_', ".").as_str() {
            "environment.builtin" => Some(Class::EnvironmentBuiltin),
            "environment.shell" => Some(Class::EnvironmentShell),
            "agent" => Some(Class::Agent),
            _ => None,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.executor_class().unwrap_or("control"))
    }
}

/// Every operation and control policy. Dispatch elsewhere matches on this enum exhaustively, so adding
/// a row here without handling it is a compile error rather than a silent gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    PromptResolve,
    WorktreePrepare,
    WorktreeCleanup,
    PlanPersist,
    GitStageCommit,
    GitIntegratePlanBranch,
    GitSaveWorktreePatch,
    PatchPipelinePrepare,
    PatchExecutePipeline,
    PatchPipelineFinalize,
    BuildMaterializeStep,
    MergeSentinelWrite,
    MergeSentinelClear,
    CommandRun,
    CicdRun,
    AgentInvoke,
    GateStopCondition,
    GateConflictResolution,
    GateCicd,
    GateApproval,
    Terminal,
}

/// What an operation requires of its `args`. Each group is satisfied when at least one of
/// its names is present; shell text (`command` / `script`) is checked by dedicated rules instead.
#[derive(Clone, Copy, Debug)]
pub struct ArgContract {
    pub required: &'static [&'static [&'static str]],
    /// Every arg the operation reads; any other key in `args` is an `unknown-field` error, so a typo
    /// never silently drops a setting.
    pub known: &'static [&'static str],
}

/// One row of the identity table.
#[derive(Debug)]
pub struct Identity {
    pub uses: &'static str,
    pub class: Class,
    /// The operation or policy name as written in job metadata, e.g. `cicd.run` or `gate.cicd`.
    pub name: &'static str,
    pub op: Op,
    pub args: ArgContract,
}

impl Identity {
    pub fn is_control(&self) -> bool {
        self.class == Class::Control
    }

    /// `workflow_executor_operation`: the operation for executors, nothing for control nodes.
    pub fn executor_operation(&self) -> Option<&'static str> {
        (!self.is_control()).then_some(self.name)
    }

    /// `workflow_control_policy`: the policy for control nodes, nothing for executors.
    pub fn control_policy(&self) -> Option<&'static str> {
        self.is_control().then_some(self.name)
    }
}

const SHELL_TEXT: &[&str] = &["command", "script"];

macro_rules! row {
    ($uses:literal, $class:ident, $name:literal, $op:ident, req: [$([$($r:literal),*]),*], known: [$($k:literal),*]) => {
        Identity {
            uses: $uses,
            class: Class::$class,
            name: $name,
            op: Op::$op,
            args: ArgContract { required: &[$(&[$($r),*]),*], known: &[$($k),*] },
        }
    };
}

/// The table. Order is the order `vizier schema` lists labels in.
pub static IDENTITIES: &[Identity] = &[
    row!("cap.env.builtin.prompt.resolve", EnvironmentBuiltin, "prompt.resolve", PromptResolve,
        req: [["prompt_text", "prompt_file"]], known: ["prompt_text", "prompt_file", "command", "script"]),
    row!("cap.env.builtin.worktree.prepare", EnvironmentBuiltin, "worktree.prepare", WorktreePrepare,
        req: [["branch"]], known: ["branch", "purpose"]),
    row!("cap.env.builtin.worktree.cleanup", EnvironmentBuiltin, "worktree.cleanup", WorktreeCleanup,
        req: [], known: []),
    row!("cap.env.builtin.plan.persist", EnvironmentBuiltin, "plan.persist", PlanPersist,
        req: [["spec_text", "spec_file"], ["slug", "name_override"]],
        known: ["spec_text", "spec_file", "spec_source", "slug", "name_override", "branch", "plan_body"]),
    row!("cap.env.builtin.git.stage_commit", EnvironmentBuiltin, "git.stage_commit", GitStageCommit,
        req: [], known: ["message"]),
    row!("cap.env.builtin.git.integrate_plan_branch", EnvironmentBuiltin, "git.integrate_plan_branch", GitIntegratePlanBranch,
        req: [["branch"]], known: ["branch", "target_branch", "squash", "delete_branch", "message", "slug"]),
    row!("cap.env.builtin.git.save_worktree_patch", EnvironmentBuiltin, "git.save_worktree_patch", GitSaveWorktreePatch,
        req: [], known: []),
    row!("cap.env.builtin.patch.pipeline_prepare", EnvironmentBuiltin, "patch.pipeline_prepare", PatchPipelinePrepare,
        req: [["files"]], known: ["files"]),
    row!("cap.env.builtin.patch.execute_pipeline", EnvironmentBuiltin, "patch.execute_pipeline", PatchExecutePipeline,
        req: [], known: []),
    row!("cap.env.builtin.patch.pipeline_finalize", EnvironmentBuiltin, "patch.pipeline_finalize", PatchPipelineFinalize,
        req: [["message"]], known: ["message"]),
    row!("cap.env.builtin.build.materialize_step", EnvironmentBuiltin, "build.materialize_step", BuildMaterializeStep,
        req: [["slug"]], known: ["build_id", "step_key", "slug", "branch", "target_branch"]),
    row!("cap.env.builtin.merge.sentinel.write", EnvironmentBuiltin, "merge.sentinel.write", MergeSentinelWrite,
        req: [["slug"], ["branch"]], known: ["slug", "branch", "target_branch"]),
    row!("cap.env.builtin.merge.sentinel.clear", EnvironmentBuiltin, "merge.sentinel.clear", MergeSentinelClear,
        req: [["slug"]], known: ["slug", "branch", "target_branch"]),
    row!("cap.env.shell.prompt.resolve", EnvironmentShell, "prompt.resolve", PromptResolve,
        req: [], known: ["command", "script"]),
    row!("cap.env.shell.command.run", EnvironmentShell, "command.run", CommandRun,
        req: [], known: ["command", "script"]),
    row!("cap.env.shell.cicd.run", EnvironmentShell, "cicd.run", CicdRun,
        req: [], known: ["command", "script"]),
    row!("cap.agent.invoke", Agent, "agent.invoke", AgentInvoke,
        req: [], known: []),
    row!("control.gate.stop_condition", Control, "gate.stop_condition", GateStopCondition,
        req: [], known: []),
    row!("control.gate.conflict_resolution", Control, "gate.conflict_resolution", GateConflictResolution,
        req: [], known: ["auto_resolve", "slug"]),
    row!("control.gate.cicd", Control, "gate.cicd", GateCicd,
        req: [], known: ["auto_resolve_script"]),
    row!("control.gate.approval", Control, "gate.approval", GateApproval,
        req: [], known: []),
    row!("control.terminal", Control, "terminal", Terminal,
        req: [], known: []),
];

/// Finds the row for a `uses` label. Linear over ~20 rows, which is cheaper than building a map.
pub fn lookup(uses: &str) -> Option<&'static Identity> {
    IDENTITIES.iter().find(|row| row.uses == uses)
}

/// The names of shell-text args, which only shell executors may set.
pub fn shell_text_args() -> &'static [&'static str] {
    SHELL_TEXT
}

/// Why a label that is not in the table was rejected.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    Legacy,
    Unknown,
}

/// Classifies a label that `lookup` did not find (`empty-uses`, `legacy-uses`,
/// `unknown-uses`).
pub fn reject_reason(uses: &str) -> Rejection {
    if uses.trim().is_empty() {
        Rejection::Empty
    } else if uses.starts_with("vizier.")
        || (uses.starts_with("cap.") && !uses.starts_with("cap.env.") && uses != "cap.agent.invoke")
    {
        Rejection::Legacy
    } else {
        Rejection::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_unique_and_its_kind_matches_its_prefix() {
        let mut seen = std::collections::HashSet::new();
        for row in IDENTITIES {
            assert!(seen.insert(row.uses), "duplicate {}", row.uses);
            let expected = if row.uses.starts_with("cap.env.builtin.") {
                Class::EnvironmentBuiltin
            } else if row.uses.starts_with("cap.env.shell.") {
                Class::EnvironmentShell
            } else if row.uses == "cap.agent.invoke" {
                Class::Agent
            } else {
                assert!(row.uses.starts_with("control."));
                Class::Control
            };
            assert_eq!(row.class, expected, "{}", row.uses);
            assert!(row.uses.ends_with(row.name.trim_start_matches("gate.")));
        }
        assert_eq!(IDENTITIES.len(), 22);
    }

    #[test]
    fn legacy_and_unknown_labels_are_told_apart() {
        assert_eq!(reject_reason("vizier.plan.persist"), Rejection::Legacy);
        assert_eq!(reject_reason("cap.plan.persist"), Rejection::Legacy);
        assert_eq!(reject_reason("cap.agent.draft"), Rejection::Legacy);
        assert_eq!(reject_reason("cap.env.builtin.nope"), Rejection::Unknown);
        assert_eq!(reject_reason("control.gate.nope"), Rejection::Unknown);
        assert_eq!(reject_reason("my-script"), Rejection::Unknown);
        assert_eq!(reject_reason("  "), Rejection::Empty);
    }

    #[test]
    fn underscored_classes_read_as_dotted() {
        assert_eq!(
            Class::parse_executor_class("environment_shell"),
            Some(Class::EnvironmentShell)
        );
        assert_eq!(Class::parse_executor_class("control"), None);
    }
}
