//! Findings about templates and config files: the rule ids, the diagnostic value, and its renderers.
//!
//! Findings are data. Rules push them into a [`Sink`]; nothing here decides exit codes or prints.
//! Renderers turn a sorted list into human, JSON or GitHub-annotation text.

mod render;
mod source;

pub use render::{
    FileSummary, escape_data, escape_property, github_annotation, render_github, render_human,
    render_json,
};
pub use source::{SourceFile, SourceMap};

use std::ops::Range;
use std::sync::Arc;

macro_rules! rules {
    ($($variant:ident => $id:literal : $summary:literal,)*) => {
        /// Every rule id, plus the warnings vizier adds. The id is stable: tools match on it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule { $($variant,)* }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// One line on what the rule guards, used by `docs/rules.md` and `vizier schema`.
            pub fn summary(self) -> &'static str {
                match self { $(Rule::$variant => $summary,)* }
            }
        }
    };
}

rules! {
    TomlSyntax => "toml-syntax": "the file is not valid TOML",
    MissingField => "missing-field": "a required field is absent",
    InvalidField => "invalid-field": "a field has the wrong type or an unknown enum value",
    UnknownField => "unknown-field": "a field that the format does not define",
    EmptyUses => "empty-uses": "`uses` is present but blank",
    LegacyUses => "legacy-uses": "`uses` is a removed legacy label (`vizier.*` or a non-env `cap.*`)",
    UnknownUses => "unknown-uses": "`uses` is not a canonical label",
    KindMismatch => "kind-mismatch": "`kind` disagrees with the class of `uses`",
    ControlWithCommand => "control-with-command": "a control node sets `args.command` or `args.script`",
    DuplicateNode => "duplicate-node": "two nodes share an `id`",
    UnknownNodeRef => "unknown-node-ref": "an `after` or `on` entry names a node that does not exist",
    Cycle => "cycle": "dependencies form a cycle",
    UndeclaredArtifact => "undeclared-artifact": "a custom artifact type is not declared in `artifact_contracts`",
    UndeclaredParam => "undeclared-param": "`${name}` names a param that `[params]` does not declare",
    TerminalRoutes => "terminal-routes": "a terminal node has an `on` route",
    PromptContract => "prompt-contract": "a `prompt.resolve` node breaks its contract",
    InvokeContract => "invoke-contract": "an `agent.invoke` node breaks its contract",
    CommandContract => "command-contract": "a `command.run` / `cicd.run` node sets neither or both of `command` and `script`",
    GateContract => "gate-contract": "a gate node's gates do not fit its policy",
    RetryLoop => "retry-loop": "a retry policy that cannot work",
    OpContract => "op-contract": "an operation's required args are missing",
    MissingProducer => "missing-producer": "a `needs` entry that no node produces",
    ImportCycle => "import-cycle": "templates import each other in a cycle",
    UnknownStage => "unknown-stage": "a link names a stage that no import declares",
    ImportError => "import-error": "an imported template cannot be read or is itself invalid",
    ParamConflict => "param-conflict": "two stages declare one param with different defaults",
    ContractConflict => "contract-conflict": "two stages declare one artifact contract differently",
    OutputInShell => "output-in-shell": "shell text names a node output as `${nodes.<id>.outputs.<name>}` instead of reading its environment variable",
    OutputRef => "output-ref": "`${nodes.<id>.outputs.<name>}` names a node that does not exist or is not upstream of the consumer",
    UnreachableNode => "unreachable-node": "a handler waits for an outcome its source can never have (warning)",
    CliMapping => "cli-mapping": "`[cli]` names an undeclared param, lists a positional twice, or reuses a flag of `vizier run`",
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding, with its position already resolved to 1-based line and column (in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: Rule,
    pub severity: Severity,
    pub path: Arc<str>,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// Byte range in the file, for rendering the source line.
    pub span: Range<usize>,
    pub node: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    fn sort_key(&self) -> impl Ord + '_ {
        (
            &*self.path,
            self.line,
            self.column,
            self.rule,
            self.severity,
            &self.message,
            self.end_line,
            self.end_column,
        )
    }
}

/// Sorts by file, line, column, rule and drops exact repeats, so the same input always
/// renders byte-identically whatever order files were read in.
pub fn sort_and_dedup(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}

/// Collects diagnostics for files in a [`SourceMap`], resolving byte spans to lines and columns.
pub struct Sink<'a> {
    sources: &'a SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

/// A finding before it is placed: which file, which bytes.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub file: usize,
    pub span: Range<usize>,
    pub node: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Finding {
    pub fn error(rule: Rule, file: usize, span: Range<usize>, message: impl Into<String>) -> Self {
        Finding {
            rule,
            severity: Severity::Error,
            file,
            span,
            node: None,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(
        rule: Rule,
        file: usize,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(rule, file, span, message)
        }
    }

    pub fn node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    pub fn node_opt(mut self, node: Option<&str>) -> Self {
        self.node = node.map(str::to_owned);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl<'a> Sink<'a> {
    pub fn new(sources: &'a SourceMap) -> Self {
        Sink {
            sources,
            diagnostics: Vec::new(),
        }
    }

    pub fn push(&mut self, finding: Finding) {
        let file = self.sources.get(finding.file);
        let (line, column) = file.position(finding.span.start);
        let (end_line, end_column) = file.position(finding.span.end.max(finding.span.start));
        self.diagnostics.push(Diagnostic {
            rule: finding.rule,
            severity: finding.severity,
            path: file.path.clone(),
            line,
            column,
            end_line,
            end_column,
            span: finding.span,
            node: finding.node,
            message: finding.message,
            help: finding.help,
        });
    }

    pub fn finish(mut self) -> Vec<Diagnostic> {
        sort_and_dedup(&mut self.diagnostics);
        self.diagnostics
    }
}

/// The closest candidate by edit distance, if it is close enough to be a plausible typo.
///
/// Ties go to the candidate that sorts first, so the answer never depends on the order candidates
/// come in (some callers iterate hash sets). Candidates whose length alone rules them out are skipped
/// and the distance stops counting past the limit, so a long candidate list stays cheap.
pub fn did_you_mean<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let input: Vec<char> = input.chars().collect();
    let mut best: Option<(usize, &str)> = None;
    let mut scratch = Vec::new();
    for candidate in candidates {
        let length = candidate.chars().count();
        let limit = (length.max(3) / 3).max(1);
        if length.abs_diff(input.len()) > limit {
            continue;
        }
        let Some(distance) = bounded_levenshtein(&input, candidate, limit, &mut scratch) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((d, c)) => distance < d || (distance == d && candidate < c),
        };
        if better {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The edit distance between `a` and `b`, counting a swap of two neighbouring characters as one edit
/// (the commonest typo: `tset` for `test`), or `None` once it is certain to exceed `limit`.
fn bounded_levenshtein(a: &[char], b: &str, limit: usize, rows: &mut Vec<usize>) -> Option<usize> {
    // Three rows in one buffer: the one before last, the last, and the one being filled.
    let width = a.len() + 1;
    rows.clear();
    rows.resize(3 * width, 0);
    for (i, cell) in rows[width..2 * width].iter_mut().enumerate() {
        *cell = i;
    }
    let mut previous_b = None;
    for (j, cb) in b.chars().enumerate() {
        let (done, current) = rows.split_at_mut(2 * width);
        let (before, last) = done.split_at(width);
        current[0] = j + 1;
        let mut row_min = current[0];
        for (i, ca) in a.iter().enumerate() {
            let cost = usize::from(*ca != cb);
            let mut best = (last[i] + cost).min(last[i + 1] + 1).min(current[i] + 1);
            if i > 0 && previous_b == Some(*ca) && a[i - 1] == cb {
                best = best.min(before[i - 1] + 1);
            }
            current[i + 1] = best;
            row_min = row_min.min(best);
        }
        if row_min > limit {
            return None;
        }
        rows.copy_within(width..3 * width, 0);
        previous_b = Some(cb);
    }
    let distance = rows[2 * width - 1];
    (distance <= limit).then_some(distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_for_close_names() {
        let fields = ["after", "args", "uses", "retry"];
        assert_eq!(did_you_mean("aftr", fields), Some("after"));
        assert_eq!(did_you_mean("use", fields), Some("uses"));
        assert_eq!(did_you_mean("completely", fields), None);
        assert_eq!(did_you_mean("", fields), None);
    }

    #[test]
    fn ties_do_not_depend_on_candidate_order() {
        assert_eq!(did_you_mean("aa", ["ac", "ab"]), Some("ab"));
        assert_eq!(did_you_mean("aa", ["ab", "ac"]), Some("ab"));
    }

    #[test]
    fn bounded_distance_matches_the_full_one_within_the_limit() {
        let mut row = Vec::new();
        let d = |a: &str, b: &str, limit| {
            bounded_levenshtein(&a.chars().collect::<Vec<_>>(), b, limit, &mut Vec::new())
        };
        assert_eq!(d("kitten", "sitting", 3), Some(3));
        assert_eq!(d("kitten", "sitting", 2), None);
        assert_eq!(d("", "abc", 3), Some(3));
        assert_eq!(d("é", "e", 1), Some(1));
        assert_eq!(d("tset", "test", 1), Some(1));
        assert_eq!(d("biuld", "build", 1), Some(1));
        assert_eq!(d("ab", "ba", 1), Some(1));
        assert_eq!(d("abc", "ca", 3), Some(3));
        row.push(7); // a dirty scratch buffer is reset
        assert_eq!(bounded_levenshtein(&['a'], "a", 1, &mut row), Some(0));
    }

    #[test]
    fn rule_ids_are_unique() {
        let mut ids: Vec<_> = Rule::ALL.iter().map(|r| r.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Rule::ALL.len());
    }
}
