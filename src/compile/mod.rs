//! Compile: a valid template plus params and a trigger become a [`Plan`] — one job per
//! node with its resolved args, its dependencies by index, its loop-backs, and the deterministic
//! run and job ids. Pure: nothing here reads or writes the job store.

mod env;
mod hash;
mod locks;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::template::graph::{DepKind, Graph};
use crate::template::params::{env_name, substitute};
use crate::template::{
    FailureMode, GateKind, LockMode, Outcome, Precondition, RetryMode, Template,
};

pub use env::TRIGGER_VARIABLES;
pub use hash::policy_snapshot_hash;

pub const PLAN_FORMAT: u32 = 1;

/// What started a run. Read tolerantly (a missing field takes its default): manifests carry it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Trigger {
    /// `local`, `push`, …
    pub kind: String,
    pub sha: String,
    #[serde(rename = "ref")]
    pub ref_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Paths changed by the push, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_paths: Vec<String>,
    /// Extra event values for scripts, exported as environment variables only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Fields written by another version of vizier, kept when a manifest is rewritten.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Read tolerantly (a missing field takes its default): manifests carry it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TemplateRef {
    pub id: String,
    pub version: String,
    pub path: String,
    pub policy_snapshot_hash: String,
    /// Fields written by another version of vizier, kept when a manifest is rewritten.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DepOn {
    /// Waits for the upstream to succeed.
    Success,
    /// A handler: waits for the upstream to end `failed`.
    Failed,
    /// A handler: waits for the upstream to end `blocked`.
    Blocked,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanDep {
    pub node: usize,
    pub on: DepOn,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanLoop {
    pub outcome: Outcome,
    pub target: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanGate {
    pub kind: GateKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub auto_resolve: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanLock {
    pub key: String,
    pub mode: LockMode,
    /// `run`: held from the start of the first node naming it until the run ends; absent: held
    /// while the node runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<LockScope>,
}

/// How long a lock is held, when not just while its node runs.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LockScope {
    /// From the start of the first node naming it until the run ends.
    Run,
}

impl std::fmt::Display for LockScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LockScope::Run => "run",
        })
    }
}

impl PlanLock {
    /// Held for the whole run (`scope = "run"`).
    pub fn run_wide(&self) -> bool {
        self.scope == Some(LockScope::Run)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanArtifact {
    pub type_id: String,
    pub key: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanPrecondition {
    CleanWorktree,
    BranchExists { branch: String },
}

/// One node of the plan, which becomes one job.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanNode {
    pub node_id: String,
    pub job_id: String,
    pub uses: String,
    /// `executor` or `control`.
    pub class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_policy: Option<String>,
    pub args: BTreeMap<String, String>,
    pub deps: Vec<PlanDep>,
    pub loops: Vec<PlanLoop>,
    pub retry_budget: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_mode: Option<RetryMode>,
    pub gates: Vec<PlanGate>,
    pub locks: Vec<PlanLock>,
    pub needs: Vec<PlanArtifact>,
    /// Artifacts produced on success (the only outcome the runtime produces for today).
    pub produces: Vec<PlanArtifact>,
    pub preconditions: Vec<PlanPrecondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Args holding `${nodes.<id>.outputs.<name>}`: their params are substituted, the output
    /// references are resolved when the node starts (`outputs::prepare`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_args: Vec<String>,
}

impl PlanNode {
    pub fn identity(&self) -> Option<&'static crate::template::Identity> {
        crate::template::identity::lookup(&self.uses)
    }

    pub fn approval_required(&self) -> bool {
        self.gates
            .iter()
            .any(|g| g.kind == GateKind::Approval && g.required)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanPolicy {
    pub failure_mode: FailureMode,
    pub max_requeues: u64,
}

/// A compiled run: everything the scheduler needs, fixed at materialization.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Plan {
    pub format_version: u32,
    pub run_id: String,
    pub template: TemplateRef,
    pub params: BTreeMap<String, String>,
    pub trigger: Trigger,
    pub policy: PlanPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub nodes: Vec<PlanNode>,
    /// The user-level config this run reads its agent from (absent: none, e.g. under CI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_config: Option<String>,
    /// Runs that must succeed before this run's entry nodes start (`vizier run --after`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_runs: Vec<String>,
}

impl Plan {
    /// The environment every script of this run sees, besides the per-job ids.
    pub fn script_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .params
            .iter()
            .map(|(k, v)| (env_name(k), v.clone()))
            .collect();
        env.push(("VIZIER_RUN_ID".into(), self.run_id.clone()));
        env.push(("VIZIER_SHA".into(), self.trigger.sha.clone()));
        env.push(("VIZIER_REF".into(), self.trigger.ref_name.clone()));
        if let Some(before) = &self.trigger.before {
            env.push(("VIZIER_BEFORE".into(), before.clone()));
        }
        for (k, v) in &self.trigger.env {
            env.push((k.clone(), v.clone()));
        }
        env::complete(&mut env, &self.trigger);
        env
    }

    /// Nodes that (transitively) depend on `start`, and `start` itself, ascending.
    pub fn downstream(&self, start: usize) -> Vec<usize> {
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for dep in &node.deps {
                dependents[dep.node].push(i);
            }
        }
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(n) = stack.pop() {
            for &d in &dependents[n] {
                if !seen[d] {
                    seen[d] = true;
                    stack.push(d);
                }
            }
        }
        (0..seen.len()).filter(|&i| seen[i]).collect()
    }
}

/// Why compiling failed; all are the caller's input problems (exit 2) except none today.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("unknown param `{name}` in --set; the template declares: {declared}")]
    UnknownParam { name: String, declared: String },
    #[error("--set takes NAME=VALUE, got `{0}`")]
    BadSet(String),
    #[error("param `{name}` refers to itself through `${{…}}`")]
    ParamCycle { name: String },
    #[error("param `{name}` expands to more than {limit} bytes")]
    ParamTooLarge { name: String, limit: u64 },
    #[error("node `{node}`: {message}")]
    Node { node: String, message: String },
}

/// Applies `--set` overrides and resolves `${}` inside param values themselves.
pub fn resolve_params(
    template: &Template,
    sets: &[String],
) -> Result<BTreeMap<String, String>, CompileError> {
    let mut raw: BTreeMap<String, String> = template
        .params
        .iter()
        .map(|p| (p.name.value.clone(), p.default.value.clone()))
        .collect();
    for set in sets {
        let Some((name, value)) = set.split_once('=') else {
            return Err(CompileError::BadSet(set.clone()));
        };
        if !raw.contains_key(name) {
            let declared = if raw.is_empty() {
                "(no params)".to_owned()
            } else {
                raw.keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(CompileError::UnknownParam {
                name: name.to_owned(),
                declared,
            });
        }
        raw.insert(name.to_owned(), value.to_owned());
    }
    // Params may refer to params (`branch = "draft/${slug}"`); resolve them depth-first, without
    // recursion (a chain of thousands of params must not run out of stack), each once.
    use crate::template::params::{Piece, pieces};
    let limit = crate::template::param_graph::MAX_EXPANDED;
    let mut resolved: BTreeMap<String, String> = BTreeMap::new();
    let mut on_stack: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for start in raw.keys() {
        if resolved.contains_key(start) {
            continue;
        }
        // Frames: (param, its pieces, how many of them are resolved).
        let mut work: Vec<(&str, Vec<Piece<'_>>, usize)> =
            vec![(start.as_str(), pieces(&raw[start]), 0)];
        on_stack.insert(start.as_str());
        while let Some((name, parts, pos)) = work.last_mut() {
            let name: &str = name;
            // Visit the next unresolved declared reference, if any.
            let mut next = None;
            while *pos < parts.len() {
                if let Piece::Ref(r) = parts[*pos]
                    && let Some((key, text)) = raw.get_key_value(r)
                    && !resolved.contains_key(r)
                {
                    if on_stack.contains(r) {
                        return Err(CompileError::ParamCycle { name: r.to_owned() });
                    }
                    next = Some((key.as_str(), text.as_str()));
                    break;
                }
                *pos += 1;
            }
            if let Some((key, text)) = next {
                on_stack.insert(key);
                work.push((key, pieces(text), 0));
                continue;
            }
            let mut out = String::new();
            for piece in parts.iter() {
                match *piece {
                    Piece::Literal(s) | Piece::Unclosed(s) => out.push_str(s),
                    Piece::Ref(r) => match resolved.get(r) {
                        Some(v) => out.push_str(v),
                        // An unknown name stays literal here; the validator reports it where it
                        // matters.
                        None => {
                            out.push_str("${");
                            out.push_str(r);
                            out.push('}');
                        }
                    },
                }
                if out.len() as u64 > limit {
                    return Err(CompileError::ParamTooLarge {
                        name: name.to_owned(),
                        limit,
                    });
                }
            }
            on_stack.remove(name);
            resolved.insert(name.to_owned(), out);
            work.pop();
        }
    }
    Ok(resolved)
}

/// Sanitizes a node id for use in a job id: `[A-Za-z0-9_.-]`, anything else becomes `_`.
pub fn sanitize(node_id: &str) -> String {
    node_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `run-` + 16 hex chars of SHA-256 over the inputs.
pub fn run_id(
    policy_hash: &str,
    params: &BTreeMap<String, String>,
    trigger: &Trigger,
    sequence: u64,
) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(policy_hash.as_bytes());
    for (k, v) in params {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    field(trigger.sha.as_bytes());
    field(trigger.ref_name.as_bytes());
    field(sequence.to_string().as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("run-{hex}")
}

/// Compiles a valid template. `run_id` is filled in by the caller once the sequence number is known
/// (see [`assign_run_id`]).
pub fn compile(
    template: &Template,
    template_path: &str,
    params: BTreeMap<String, String>,
    trigger: Trigger,
    alias: Option<String>,
) -> Result<Plan, CompileError> {
    let policy_hash = policy_snapshot_hash(template);
    let graph = Graph::build(template);
    let lookup = |name: &str| params.get(name).map(String::as_str);
    let subst = |node: &str, text: &str| {
        // The size first, so an arg naming large params many times is refused, never allocated.
        let size: u64 = crate::template::params::pieces(text)
            .iter()
            .map(|p| match p {
                crate::template::params::Piece::Ref(r) => {
                    params.get(*r).map_or(r.len() + 3, String::len) as u64
                }
                crate::template::params::Piece::Literal(s)
                | crate::template::params::Piece::Unclosed(s) => s.len() as u64,
            })
            .sum();
        let limit = crate::template::param_graph::MAX_EXPANDED;
        if size > limit {
            return Err(CompileError::Node {
                node: node.to_owned(),
                message: format!("a value expands to {size} bytes, more than the limit of {limit}"),
            });
        }
        substitute(text, lookup).map_err(|name| CompileError::Node {
            node: node.to_owned(),
            message: format!("`${{{name}}}` names an undeclared param"),
        })
    };
    let mut stage_of: HashMap<usize, String> = HashMap::new();
    for stage in &template.stages {
        for i in stage.nodes.clone() {
            stage_of.insert(i, stage.name.clone());
        }
    }
    let mut nodes = Vec::with_capacity(template.nodes.len());
    for (i, node) in template.nodes.iter().enumerate() {
        let node_id = node.id_str().unwrap_or_default().to_owned();
        let row = node.identity().ok_or_else(|| CompileError::Node {
            node: node_id.clone(),
            message: "uses a label that is not canonical".into(),
        })?;
        let mut args = BTreeMap::new();
        let mut output_args = Vec::new();
        for (k, v) in &node.args {
            let value = if crate::template::output_refs::has_output_ref(&v.value) {
                output_args.push(k.value.clone());
                crate::template::output_refs::defer_params(&v.value, &params).map_err(|name| {
                    CompileError::Node {
                        node: node_id.clone(),
                        message: format!("`${{{name}}}` names an undeclared param"),
                    }
                })?
            } else {
                subst(&node_id, &v.value)?
            };
            args.insert(k.value.clone(), value);
        }
        let mut gates = Vec::new();
        for g in &node.gates {
            gates.push(PlanGate {
                kind: g.kind.as_ref().map_or(GateKind::Custom, |k| k.value),
                script: g
                    .script
                    .as_ref()
                    .map(|s| subst(&node_id, &s.value))
                    .transpose()?,
                policy: g.policy.as_ref().map(|p| p.value.clone()),
                required: g.required.unwrap_or(true),
                auto_resolve: g.auto_resolve.unwrap_or(false),
            });
        }
        let retry_budget = match node.retry.as_ref().and_then(|r| r.budget.as_ref()) {
            Some(b) => subst(&node_id, &b.value)?
                .trim()
                .parse::<u32>()
                .map_err(|_| CompileError::Node {
                    node: node_id.clone(),
                    message: format!("`retry.budget` `{}` is not a whole number", b.value),
                })?,
            None => 1,
        };
        let deps = graph.deps[i]
            .iter()
            .map(|d| PlanDep {
                node: d.upstream,
                on: match d.kind {
                    DepKind::Success => DepOn::Success,
                    DepKind::Handler(Outcome::Failed) => DepOn::Failed,
                    DepKind::Handler(_) => DepOn::Blocked,
                },
            })
            .fold(Vec::new(), |mut acc: Vec<PlanDep>, d| {
                if !acc.contains(&d) {
                    acc.push(d);
                }
                acc
            });
        let artifact = |a: &crate::template::Sp<crate::template::ArtifactRef>| PlanArtifact {
            type_id: a.value.type_id.clone(),
            key: a.value.key.clone(),
        };
        // Lock keys take params like args (`branch:${branch}`), so runs for different values hold
        // different locks.
        let mut locks: Vec<PlanLock> = node
            .locks
            .iter()
            .map(|l| {
                Ok(PlanLock {
                    key: subst(&node_id, &l.key.value)?,
                    mode: l.mode,
                    scope: l.run_scope.then_some(LockScope::Run),
                })
            })
            .collect::<Result<_, CompileError>>()?;
        if !node.locks_declared {
            locks = locks::inferred(row.op, &args, &trigger);
        }
        nodes.push(PlanNode {
            job_id: String::new(),
            node_id,
            uses: row.uses.to_owned(),
            class: row.class.family().to_owned(),
            executor_class: row.class.executor_class().map(str::to_owned),
            executor_operation: row.executor_operation().map(str::to_owned),
            control_policy: row.control_policy().map(str::to_owned),
            args,
            deps,
            loops: Vec::new(),
            retry_budget,
            retry_mode: node
                .retry
                .as_ref()
                .and_then(|r| r.mode.as_ref())
                .map(|m| m.value),
            gates,
            locks,
            needs: node.needs.iter().map(artifact).collect(),
            produces: node.produces.succeeded.iter().map(artifact).collect(),
            preconditions: node
                .preconditions
                .iter()
                .map(|p| match p {
                    Precondition::CleanWorktree => Ok(PlanPrecondition::CleanWorktree),
                    Precondition::BranchExists(b) => Ok(PlanPrecondition::BranchExists {
                        branch: subst(node.id_str().unwrap_or_default(), &b.value)?,
                    }),
                })
                .collect::<Result<_, CompileError>>()?,
            stage: stage_of.get(&i).cloned(),
            output_args,
        });
    }
    for lb in &graph.loop_backs {
        nodes[lb.source].loops.push(PlanLoop {
            outcome: lb.outcome,
            target: lb.target,
        });
    }
    Ok(Plan {
        format_version: PLAN_FORMAT,
        run_id: String::new(),
        template: TemplateRef {
            id: template
                .id
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_default(),
            version: template
                .version
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_default(),
            path: template_path.to_owned(),
            policy_snapshot_hash: policy_hash,
            extra: BTreeMap::new(),
        },
        params,
        trigger,
        policy: PlanPolicy {
            failure_mode: template.policy.failure_mode,
            max_requeues: template.policy.max_requeues.unwrap_or(100),
        },
        alias,
        nodes,
        user_config: None,
        after_runs: Vec::new(),
    })
}

/// Fixes the run id for sequence number `sequence` and derives every job id from it.
pub fn assign_run_id(plan: &mut Plan, sequence: u64) {
    plan.run_id = run_id(
        &plan.template.policy_snapshot_hash,
        &plan.params,
        &plan.trigger,
        sequence,
    );
    if !plan.after_runs.is_empty() {
        // The runs waited for are inputs too; a run without `--after` keeps the id it always had.
        let mut h = Sha256::new();
        h.update(plan.run_id.as_bytes());
        for after in &plan.after_runs {
            h.update((after.len() as u64).to_be_bytes());
            h.update(after.as_bytes());
        }
        let hex: String = h
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        plan.run_id = format!("run-{hex}");
    }
    for node in &mut plan.nodes {
        node.job_id = format!("{}-{}", plan.run_id, sanitize(&node.node_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_depend_on_every_input() {
        let params: BTreeMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
        let trigger = Trigger {
            kind: "local".into(),
            sha: "abc".into(),
            ref_name: "refs/heads/main".into(),
            ..Trigger::default()
        };
        let base = run_id("h", &params, &trigger, 0);
        assert_eq!(base, run_id("h", &params, &trigger, 0));
        assert!(base.starts_with("run-") && base.len() == 20);
        assert_ne!(base, run_id("h", &params, &trigger, 1));
        assert_ne!(base, run_id("h2", &params, &trigger, 0));
        let other = Trigger {
            sha: "abd".into(),
            ..trigger.clone()
        };
        assert_ne!(base, run_id("h", &params, &other, 0));
    }

    #[test]
    fn node_ids_are_sanitized() {
        assert_eq!(sanitize("draft__a b/c"), "draft__a_b_c");
    }
}
