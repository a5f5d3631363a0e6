//! The template format: the model (every value keeps its byte span), the parser that
//! builds it from TOML, `${param}` handling, the dependency graph, and composition of imports.
//!
//! This module only describes templates. It does not judge them beyond the shape of the TOML (that is
//! `validate`), and it never touches jobs or processes.

pub mod compose;
pub mod graph;
pub mod identity;
pub mod inputs;
pub mod output_refs;
pub mod param_graph;
pub mod params;
mod parse;
pub(crate) mod walk;

pub(crate) use parse::parse_toml;
pub use parse::{NODE_FIELDS, Parsed, TOP_FIELDS, parse_template};

use std::ops::Range;

pub use identity::{Class, Identity, Kind, Op};

pub type Span = Range<usize>;

/// The artifact type a `prompt.resolve` node produces and an `agent.invoke` node needs.
pub const PROMPT_TYPE: &str = "prompt_text";

/// A value with the byte range it came from, in the file its owner names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

/// A whole template after parsing (and, for a composition, after its imports were merged in).
#[derive(Clone, Debug, Default)]
pub struct Template {
    /// Index of the file in the validation's `SourceMap`.
    pub file: usize,
    pub id: Option<Sp<String>>,
    pub version: Option<Sp<String>>,
    /// The optional one-line `description` shown by `vizier list` and `vizier run <alias> --help`.
    pub description: Option<Sp<String>>,
    pub params: Vec<Param>,
    /// The `[cli]` table: positional arguments and named flags of `vizier run <alias>`.
    pub cli: Option<CliMap>,
    pub artifact_contracts: Vec<ArtifactContract>,
    pub nodes: Vec<Node>,
    pub policy: Policy,
    pub imports: Vec<Import>,
    pub links: Vec<Link>,
    /// Stage names of a composition, in import order (empty for a plain template).
    pub stages: Vec<Stage>,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub file: usize,
    pub name: Sp<String>,
    pub default: Sp<String>,
    /// From the table form `{ default, description, required }`.
    pub description: Option<Sp<String>>,
    /// The run is refused while the value is empty.
    pub required: bool,
}

/// `[cli]`: how `vizier run <alias> [positional...] [--<named> value]` maps to params.
#[derive(Clone, Debug, Default)]
pub struct CliMap {
    pub file: usize,
    pub span: Span,
    /// Param names, in argument order.
    pub positional: Vec<Sp<String>>,
    /// `(flag, param)` pairs, in declaration order.
    pub named: Vec<(Sp<String>, Sp<String>)>,
}

#[derive(Clone, Debug)]
pub struct ArtifactContract {
    pub file: usize,
    pub id: Option<Sp<String>>,
    pub version: Option<Sp<String>>,
    pub span: Span,
}

/// What a run does after a failure no handler takes. Serialized (plans) as the template's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    #[default]
    BlockDownstream,
    ContinueIndependent,
}

impl FailureMode {
    pub const NAMES: [&'static str; 2] = ["block_downstream", "continue_independent"];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureMode::BlockDownstream => "block_downstream",
            FailureMode::ContinueIndependent => "continue_independent",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub failure_mode: FailureMode,
    pub max_requeues: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Import {
    pub file: usize,
    pub name: Option<Sp<String>>,
    pub path: Option<Sp<String>>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Link {
    pub file: usize,
    pub from: Option<Sp<String>>,
    pub to: Option<Sp<String>>,
    pub span: Span,
}

/// A stage of a composition: its name and the range of `Template::nodes` it contributed.
#[derive(Clone, Debug)]
pub struct Stage {
    pub name: String,
    pub template_id: Option<String>,
    pub path: String,
    pub nodes: Range<usize>,
}

/// How a node declared its `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindDecl {
    Absent,
    /// Present but not a known kind; already reported as `invalid-field`.
    Invalid,
    Given(Sp<Kind>),
}

impl KindDecl {
    /// The effective kind: `builtin` when absent.
    pub fn effective(&self) -> Option<Kind> {
        match self {
            KindDecl::Absent => Some(Kind::Builtin),
            KindDecl::Invalid => None,
            KindDecl::Given(k) => Some(k.value),
        }
    }
}

/// A custom artifact reference: `{ custom = { type_id, key } }`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactRef {
    pub type_id: String,
    pub key: String,
}

impl std::fmt::Display for ArtifactRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "custom:{}:{}", self.type_id, self.key)
    }
}

/// How a job ended: the three outcomes a route or a `produces` list can be keyed by, and what a
/// job's process records (`outcome.json`, the manifest's node `outcome`). A run's outcome is
/// `store::RunOutcome`, a CI invocation's `ci::CiOutcome`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Also what a record that does not say reads as: nothing says it succeeded.
    #[default]
    Failed,
    Blocked,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Succeeded, Outcome::Failed, Outcome::Blocked];
    pub const NAMES: [&'static str; 3] = ["succeeded", "failed", "blocked"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something per outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerOutcome<T> {
    pub succeeded: T,
    pub failed: T,
    pub blocked: T,
}

impl<T> PerOutcome<T> {
    pub fn get(&self, outcome: Outcome) -> &T {
        match outcome {
            Outcome::Succeeded => &self.succeeded,
            Outcome::Failed => &self.failed,
            Outcome::Blocked => &self.blocked,
        }
    }

    pub fn get_mut(&mut self, outcome: Outcome) -> &mut T {
        match outcome {
            Outcome::Succeeded => &mut self.succeeded,
            Outcome::Failed => &mut self.failed,
            Outcome::Blocked => &mut self.blocked,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (Outcome, &T)> {
        Outcome::ALL.into_iter().map(move |o| (o, self.get(o)))
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    Shared,
    Exclusive,
}

impl LockMode {
    pub const NAMES: [&'static str; 2] = ["shared", "exclusive"];

    pub fn parse(s: &str) -> Option<LockMode> {
        [LockMode::Shared, LockMode::Exclusive]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl std::fmt::Display for LockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct Lock {
    pub key: Sp<String>,
    pub mode: LockMode,
    /// `scope = "run"`: held from the first node naming it until the run ends.
    pub run_scope: bool,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    Approval,
    Script,
    Cicd,
    Custom,
}

impl GateKind {
    pub const NAMES: [&'static str; 4] = ["approval", "script", "cicd", "custom"];

    pub fn parse(s: &str) -> Option<GateKind> {
        match s {
            "approval" => Some(GateKind::Approval),
            "script" => Some(GateKind::Script),
            "cicd" => Some(GateKind::Cicd),
            "custom" => Some(GateKind::Custom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Clone, Debug)]
pub struct Gate {
    pub span: Span,
    pub kind: Option<Sp<GateKind>>,
    pub script: Option<Sp<String>>,
    /// `block` (default) or `retry`.
    pub policy: Option<Sp<String>>,
    pub required: Option<bool>,
    pub auto_resolve: Option<bool>,
    /// Free-form id of a `custom` gate.
    pub id: Option<Sp<String>>,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RetryMode {
    Never,
    OnFailure,
    UntilGate,
}

impl RetryMode {
    pub const NAMES: [&'static str; 3] = ["never", "on_failure", "until_gate"];

    pub fn parse(s: &str) -> Option<RetryMode> {
        match s {
            "never" => Some(RetryMode::Never),
            "on_failure" => Some(RetryMode::OnFailure),
            "until_gate" => Some(RetryMode::UntilGate),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Clone, Debug)]
pub struct Retry {
    pub span: Span,
    pub mode: Option<Sp<RetryMode>>,
    /// Raw budget text: an integer literal, or a string that may hold `${param}`.
    pub budget: Option<Sp<String>>,
}

/// A scheduler precondition checked before a node may start.
#[derive(Clone, Debug)]
pub enum Precondition {
    CleanWorktree,
    BranchExists(Sp<String>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub file: usize,
    /// The whole node table.
    pub span: Span,
    /// The node id; in a composition, already renamed `<stage>__<id>`.
    pub id: Option<Sp<String>>,
    pub kind: KindDecl,
    pub uses: Option<Sp<String>>,
    /// Args in key order, values as text (booleans and numbers in their TOML spelling).
    pub args: Vec<(Sp<String>, Sp<String>)>,
    pub after: Vec<Sp<String>>,
    pub needs: Vec<Sp<ArtifactRef>>,
    pub produces: PerOutcome<Vec<Sp<ArtifactRef>>>,
    pub locks: Vec<Lock>,
    pub gates: Vec<Gate>,
    pub retry: Option<Retry>,
    pub on: PerOutcome<Vec<Sp<String>>>,
    pub preconditions: Vec<Precondition>,
    /// Links add `after` entries that point into the composing file; this says which file each
    /// `after` entry's span belongs to when it differs from `file`.
    pub after_files: Vec<usize>,
    /// Whether the node wrote `locks` at all (`locks = []` opts out of inferred branch locks).
    pub locks_declared: bool,
}

impl Node {
    pub fn id_str(&self) -> Option<&str> {
        self.id.as_ref().map(|s| s.value.as_str())
    }

    pub fn arg(&self, name: &str) -> Option<&Sp<String>> {
        self.args
            .iter()
            .find(|(k, _)| k.value == name)
            .map(|(_, v)| v)
    }

    /// The identity row for this node's `uses`, if it is canonical.
    pub fn identity(&self) -> Option<&'static Identity> {
        self.uses.as_ref().and_then(|u| identity::lookup(&u.value))
    }

    /// Where a finding about this node's operation points: its `uses` value, else the node.
    pub fn uses_span(&self) -> Span {
        self.uses
            .as_ref()
            .map_or_else(|| self.span.clone(), |u| u.span.clone())
    }

    /// The file an `after` entry was written in.
    pub fn after_file(&self, index: usize) -> usize {
        self.after_files.get(index).copied().unwrap_or(self.file)
    }
}
