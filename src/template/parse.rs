//! TOML text → [`Template`], reporting `toml-syntax`, `missing-field`, `invalid-field` and
//! `unknown-field`. Everything semantic is left to `validate`.

use toml::de::{DeTable, DeValue};

use super::walk::{Value, Walker, get};
use super::*;
use crate::diagnostic::{Finding, Rule};

pub const TOP_FIELDS: &[&str] = &[
    "id",
    "version",
    "description",
    "params",
    "cli",
    "artifact_contracts",
    "nodes",
    "policy",
    "imports",
    "links",
];
pub const NODE_FIELDS: &[&str] = &[
    "id",
    "kind",
    "uses",
    "args",
    "after",
    "needs",
    "produces",
    "locks",
    "gates",
    "retry",
    "on",
    "preconditions",
];
const OUTCOMES: &[&str] = &Outcome::NAMES;
const GATE_FIELDS: &[&str] = &["kind", "script", "policy", "required", "auto_resolve", "id"];
const GATE_POLICIES: &[&str] = &["block", "retry"];

/// The result of parsing one file.
pub struct Parsed {
    /// `None` when the file is not valid TOML (then only `toml-syntax` findings exist).
    pub template: Option<Template>,
    pub findings: Vec<Finding>,
}

/// Parses `text` (the content of source file `file`).
pub fn parse_template(file: usize, text: &str) -> Parsed {
    let mut findings = Vec::new();
    let root = match parse_toml(file, text, &mut findings) {
        Some(root) => root,
        None => {
            return Parsed {
                template: None,
                findings,
            };
        }
    };
    let mut w = Walker::new(file, &mut findings);
    let template = read_template(&mut w, root.get_ref());
    Parsed {
        template: Some(template),
        findings,
    }
}

/// Parses TOML, turning every syntax error into a `toml-syntax` finding.
pub(crate) fn parse_toml<'i>(
    file: usize,
    text: &'i str,
    findings: &mut Vec<Finding>,
) -> Option<toml::Spanned<DeTable<'i>>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(root);
    }
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim().to_owned();
        findings.push(Finding::error(
            Rule::TomlSyntax,
            file,
            span,
            format!("invalid TOML: {message}"),
        ));
    }
    None
}

fn read_template(w: &mut Walker<'_>, root: &DeTable<'_>) -> Template {
    w.check_keys(root, TOP_FIELDS, "a template");
    let mut t = Template {
        file: w.file,
        ..Template::default()
    };
    match get(root, "id") {
        Some(v) => t.id = w.nonempty_string("id", v),
        None => w.missing("id", 0..0, "the template"),
    }
    match get(root, "version") {
        Some(v) => t.version = w.nonempty_string("version", v),
        None => w.missing("version", 0..0, "the template"),
    }
    if let Some(v) = get(root, "description") {
        t.description = w.string("description", v);
    }
    if let Some(v) = get(root, "params")
        && let Some(table) = w.table("params", v)
    {
        for (key, value) in table.iter() {
            let name = Sp::new(key.get_ref().to_string(), key.span());
            if let Some(param) = read_param(w, name, value) {
                t.params.push(param);
            }
        }
    }
    if let Some(v) = get(root, "cli")
        && let Some(table) = w.table("cli", v)
    {
        w.check_keys(table, &["positional", "named"], "`[cli]`");
        let mut cli = CliMap {
            file: w.file,
            span: v.span(),
            ..CliMap::default()
        };
        if let Some(p) = get(table, "positional") {
            cli.positional = w.strings("cli.positional", p);
        }
        if let Some(n) = get(table, "named")
            && let Some(named) = w.table("cli.named", n)
        {
            for (flag, param) in named.iter() {
                let field = format!("cli.named.{}", flag.get_ref());
                if let Some(param) = w.string(&field, param) {
                    cli.named
                        .push((Sp::new(flag.get_ref().to_string(), flag.span()), param));
                }
            }
        }
        t.cli = Some(cli);
    }
    if let Some(v) = get(root, "artifact_contracts") {
        for (table, span) in w.tables("artifact_contracts", v) {
            w.check_keys(table, &["id", "version"], "an artifact contract");
            let id = get(table, "id").and_then(|v| w.nonempty_string("id", v));
            if get(table, "id").is_none() {
                w.missing("id", span.clone(), "an artifact contract");
            }
            let version = get(table, "version").and_then(|v| w.nonempty_string("version", v));
            if get(table, "version").is_none() {
                w.missing("version", span.clone(), "an artifact contract");
            }
            t.artifact_contracts.push(ArtifactContract {
                file: w.file,
                id,
                version,
                span,
            });
        }
    }
    if let Some(v) = get(root, "policy")
        && let Some(table) = w.table("policy", v)
    {
        read_policy(w, table, &mut t.policy);
    }
    if let Some(v) = get(root, "imports") {
        for (table, span) in w.tables("imports", v) {
            w.check_keys(table, &["name", "path"], "an import");
            let name = required_string(w, table, "name", &span, "an import");
            let path = required_string(w, table, "path", &span, "an import");
            t.imports.push(Import {
                file: w.file,
                name,
                path,
                span,
            });
        }
    }
    if let Some(v) = get(root, "links") {
        for (table, span) in w.tables("links", v) {
            w.check_keys(table, &["from", "to"], "a link");
            let from = required_string(w, table, "from", &span, "a link");
            let to = required_string(w, table, "to", &span, "a link");
            t.links.push(Link {
                file: w.file,
                from,
                to,
                span,
            });
        }
    }
    if let Some(v) = get(root, "nodes") {
        for (table, span) in w.tables("nodes", v) {
            let node = read_node(w, table, span);
            t.nodes.push(node);
        }
    }
    t
}

fn required_string(
    w: &mut Walker<'_>,
    table: &DeTable<'_>,
    field: &str,
    span: &Span,
    context: &str,
) -> Option<Sp<String>> {
    match get(table, field) {
        Some(v) => w.nonempty_string(field, v),
        None => {
            w.missing(field, span.clone(), context);
            None
        }
    }
}

fn read_policy(w: &mut Walker<'_>, table: &DeTable<'_>, policy: &mut Policy) {
    w.check_keys(table, &["failure_mode", "max_requeues"], "`[policy]`");
    if let Some(v) = get(table, "failure_mode")
        && let Some(mode) = w.enumerated("failure_mode", v, &FailureMode::NAMES)
    {
        policy.failure_mode = if mode.value == "continue_independent" {
            FailureMode::ContinueIndependent
        } else {
            FailureMode::BlockDownstream
        };
    }
    if let Some(v) = get(table, "max_requeues") {
        match v
            .get_ref()
            .as_integer()
            .and_then(|i| i.as_str().parse::<u64>().ok())
        {
            Some(n) => policy.max_requeues = Some(n),
            None => w.wrong_type("max_requeues", v, "a whole number ≥ 0"),
        }
    }
}

/// A param: a scalar (its default) or a table `{ default, description, required }`.
fn read_param(w: &mut Walker<'_>, name: Sp<String>, value: &Value<'_>) -> Option<Param> {
    let DeValue::Table(table) = value.get_ref() else {
        let default = scalar_text(w, "param", value)?;
        return Some(Param {
            file: w.file,
            name,
            default,
            description: None,
            required: false,
        });
    };
    w.check_keys(table, &["default", "description", "required"], "a param");
    let default = match get(table, "default") {
        Some(d) => scalar_text(w, "default", d)?,
        // No default: the empty value, which a required param refuses at run time.
        None => Sp::new(String::new(), value.span()),
    };
    Some(Param {
        file: w.file,
        name,
        default,
        description: get(table, "description").and_then(|d| w.string("description", d)),
        required: get(table, "required")
            .and_then(|r| w.boolean("required", r))
            .unwrap_or(false),
    })
}

/// A scalar as text: strings as they are, booleans and integers in their TOML spelling.
fn scalar_text(w: &mut Walker<'_>, field: &str, value: &Value<'_>) -> Option<Sp<String>> {
    let text = match value.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Integer(i) if i.radix() == 10 => i.as_str().replace('_', ""),
        _ => {
            w.wrong_type(field, value, "a string, boolean or integer");
            return None;
        }
    };
    Some(Sp::new(text, value.span()))
}

fn read_node(w: &mut Walker<'_>, table: &DeTable<'_>, span: Span) -> Node {
    // The id first, so every later finding on this node can name it.
    let id = match get(table, "id") {
        Some(v) => w.nonempty_string("id", v),
        None => {
            w.missing("id", span.clone(), "a node");
            None
        }
    };
    w.node = id.as_ref().map(|s| s.value.clone());
    w.check_keys(table, NODE_FIELDS, "a node");
    let mut node = Node {
        file: w.file,
        span: span.clone(),
        id,
        kind: KindDecl::Absent,
        uses: None,
        args: Vec::new(),
        after: Vec::new(),
        needs: Vec::new(),
        produces: PerOutcome::default(),
        locks: Vec::new(),
        gates: Vec::new(),
        retry: None,
        on: PerOutcome::default(),
        preconditions: Vec::new(),
        after_files: Vec::new(),
        locks_declared: false,
    };
    if let Some(v) = get(table, "kind") {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        node.kind = match w.enumerated("kind", v, &names) {
            Some(s) => KindDecl::Given(Sp::new(Kind::parse(&s.value).expect("enumerated"), s.span)),
            None => KindDecl::Invalid,
        };
    }
    match get(table, "uses") {
        // Blank `uses` is kept so the `empty-uses` rule can name it.
        Some(v) => node.uses = w.string("uses", v),
        None => w.missing("uses", span.clone(), "a node"),
    }
    if let Some(v) = get(table, "args")
        && let Some(args) = w.table("args", v)
    {
        for (key, value) in args.iter() {
            let field = format!("args.{}", key.get_ref());
            let text = match value.get_ref() {
                // Shell text is run as written: a list or a boolean there would run its spelling.
                // A wrong type is reported and the arg kept blank, so the rules that ask whether
                // `command` / `script` is set do not pile on.
                _ if identity::shell_text_args().contains(&&**key.get_ref()) => Some(
                    w.string(&field, value)
                        .unwrap_or_else(|| Sp::new(String::new(), value.span())),
                ),
                DeValue::Array(items) if items.iter().all(|i| i.get_ref().is_str()) => {
                    let list: Vec<&str> =
                        items.iter().filter_map(|i| i.get_ref().as_str()).collect();
                    Some(Sp::new(
                        serde_json::to_string(&list).expect("strings serialize"),
                        value.span(),
                    ))
                }
                _ => scalar_text(w, &field, value),
            };
            if let Some(text) = text {
                node.args
                    .push((Sp::new(key.get_ref().to_string(), key.span()), text));
            }
        }
    }
    if let Some(v) = get(table, "after")
        && let Some(items) = w.array("after", v)
    {
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => node.after.push(Sp::new(s.to_string(), item.span())),
                DeValue::Table(t) => {
                    w.check_keys(t, &["node_id"], "an `after` entry");
                    match get(t, "node_id") {
                        Some(id) => node.after.extend(w.string("node_id", id)),
                        None => w.missing("node_id", item.span(), "an `after` entry"),
                    }
                }
                _ => w.wrong_type("after", item, "a table `{ node_id = \"…\" }`"),
            }
        }
    }
    if let Some(v) = get(table, "needs")
        && let Some(items) = w.array("needs", v)
    {
        for item in items {
            node.needs.extend(read_artifact(w, "needs", item));
        }
    }
    if let Some(v) = get(table, "produces")
        && let Some(t) = w.table("produces", v)
    {
        w.check_keys(t, OUTCOMES, "`produces`");
        for outcome in Outcome::ALL {
            if let Some(list) = get(t, outcome.as_str()) {
                let field = format!("produces.{}", outcome.as_str());
                if let Some(items) = w.array(&field, list) {
                    for item in items {
                        let artifact = read_artifact(w, &field, item);
                        node.produces.get_mut(outcome).extend(artifact);
                    }
                }
            }
        }
    }
    if let Some(v) = get(table, "locks") {
        node.locks_declared = true;
        for (t, span) in w.tables("locks", v) {
            w.check_keys(t, &["key", "mode", "scope"], "a lock");
            let run_scope = get(t, "scope")
                .and_then(|s| w.enumerated("lock scope", s, &["node", "run"]))
                .is_some_and(|s| s.value == "run");
            let key = required_string(w, t, "key", &span, "a lock");
            let mode = match get(t, "mode") {
                Some(m) => w
                    .enumerated("lock mode", m, &LockMode::NAMES)
                    .and_then(|s| LockMode::parse(&s.value)),
                None => Some(LockMode::Exclusive),
            };
            if let (Some(key), Some(mode)) = (key, mode) {
                node.locks.push(Lock {
                    key,
                    mode,
                    run_scope,
                });
            }
        }
    }
    if let Some(v) = get(table, "gates") {
        for (t, span) in w.tables("gates", v) {
            node.gates.push(read_gate(w, t, span));
        }
    }
    if let Some(v) = get(table, "retry")
        && let Some(t) = w.table("retry", v)
    {
        w.check_keys(t, &["mode", "budget"], "`retry`");
        let mode = get(t, "mode").and_then(|m| {
            w.enumerated("retry mode", m, &RetryMode::NAMES)
                .map(|s| Sp::new(RetryMode::parse(&s.value).expect("enumerated"), s.span))
        });
        let budget = get(t, "budget").and_then(|b| match b.get_ref() {
            DeValue::Integer(i) => Some(Sp::new(i.as_str().replace('_', ""), b.span())),
            DeValue::String(s) => Some(Sp::new(s.to_string(), b.span())),
            _ => {
                w.wrong_type("retry.budget", b, "a whole number or a `${param}` string");
                None
            }
        });
        node.retry = Some(Retry {
            span: v.span(),
            mode,
            budget,
        });
    }
    if let Some(v) = get(table, "on")
        && let Some(t) = w.table("on", v)
    {
        w.check_keys(t, OUTCOMES, "`on`");
        for outcome in Outcome::ALL {
            if let Some(targets) = get(t, outcome.as_str()) {
                let field = format!("on.{}", outcome.as_str());
                let list = match targets.get_ref() {
                    DeValue::String(s) => vec![Sp::new(s.to_string(), targets.span())],
                    _ => w.strings(&field, targets),
                };
                node.on.get_mut(outcome).extend(list);
            }
        }
    }
    if let Some(v) = get(table, "preconditions") {
        for (t, span) in w.tables("preconditions", v) {
            w.check_keys(t, &["kind", "branch"], "a precondition");
            let kind = match get(t, "kind") {
                Some(k) => w.enumerated("precondition", k, &["clean_worktree", "branch_exists"]),
                None => {
                    w.missing("kind", span.clone(), "a precondition");
                    None
                }
            };
            match kind.as_ref().map(|k| k.value.as_str()) {
                Some("clean_worktree") => node.preconditions.push(Precondition::CleanWorktree),
                Some(_) => {
                    if let Some(branch) =
                        required_string(w, t, "branch", &span, "a `branch_exists` precondition")
                    {
                        node.preconditions.push(Precondition::BranchExists(branch));
                    }
                }
                None => {}
            }
        }
    }
    w.node = None;
    node
}

fn read_gate(w: &mut Walker<'_>, t: &DeTable<'_>, span: Span) -> Gate {
    w.check_keys(t, GATE_FIELDS, "a gate");
    let kind = match get(t, "kind") {
        Some(k) => w
            .enumerated("gate kind", k, &GateKind::NAMES)
            .map(|s| Sp::new(GateKind::parse(&s.value).expect("enumerated"), s.span)),
        None => {
            w.missing("kind", span.clone(), "a gate");
            None
        }
    };
    Gate {
        span,
        kind,
        script: get(t, "script").and_then(|v| w.string("script", v)),
        policy: get(t, "policy").and_then(|v| w.enumerated("gate policy", v, GATE_POLICIES)),
        required: get(t, "required").and_then(|v| w.boolean("required", v)),
        auto_resolve: get(t, "auto_resolve").and_then(|v| w.boolean("auto_resolve", v)),
        id: get(t, "id").and_then(|v| w.string("id", v)),
    }
}

fn read_artifact(w: &mut Walker<'_>, field: &str, item: &Value<'_>) -> Option<Sp<ArtifactRef>> {
    let t = w.table(field, item)?;
    w.check_keys(t, &["custom"], "an artifact reference");
    let Some(custom) = get(t, "custom") else {
        w.missing("custom", item.span(), "an artifact reference");
        return None;
    };
    let inner = w.table("custom", custom)?;
    w.check_keys(inner, &["type_id", "key"], "a custom artifact");
    let span = item.span();
    let type_id = required_string(w, inner, "type_id", &span, "a custom artifact")?;
    let key = required_string(w, inner, "key", &span, "a custom artifact")?;
    Some(Sp::new(
        ArtifactRef {
            type_id: type_id.value,
            key: key.value,
        },
        type_id.span,
    ))
}
