//! Identity rules: `empty-uses`, `legacy-uses`, `unknown-uses`, `kind-mismatch`,
//! `control-with-command`, unknown args (`unknown-field`) and `op-contract`.

use super::Ctx;
use crate::diagnostic::{Finding, Rule, did_you_mean};
use crate::template::identity::{self, Class, IDENTITIES, Rejection, reject_reason};
use crate::template::{KindDecl, Node};

pub fn check(ctx: &mut Ctx<'_>, node: &Node) {
    let Some(uses) = &node.uses else { return };
    let id = node.id_str();
    let Some(row) = identity::lookup(&uses.value) else {
        let finding = match reject_reason(&uses.value) {
            Rejection::Empty => Finding::error(
                Rule::EmptyUses,
                node.file,
                uses.span.clone(),
                "`uses` is blank",
            )
            .help("name a canonical label, e.g. `cap.env.shell.command.run`"),
            Rejection::Legacy => Finding::error(
                Rule::LegacyUses,
                node.file,
                uses.span.clone(),
                format!(
                    "`{}` is a legacy label and is no longer accepted",
                    uses.value
                ),
            )
            .help(legacy_help(&uses.value)),
            Rejection::Unknown => Finding::error(
                Rule::UnknownUses,
                node.file,
                uses.span.clone(),
                format!("`{}` is not a canonical `uses` label", uses.value),
            )
            .help(unknown_help(&uses.value)),
        };
        ctx.push(finding.node_opt(id));
        return;
    };

    if let KindDecl::Given(kind) = &node.kind {
        if kind.value != row.class.required_kind() {
            ctx.push(
                Finding::error(
                    Rule::KindMismatch,
                    node.file,
                    kind.span.clone(),
                    format!(
                        "`kind = \"{}\"` does not match `{}`, {} node",
                        kind.value.as_str(),
                        row.uses,
                        class_words(row.class)
                    ),
                )
                .node_opt(id)
                .help(format!(
                    "set `kind = \"{}\"`",
                    row.class.required_kind().as_str()
                )),
            );
        }
    } else if node.kind == KindDecl::Absent
        && row.class.required_kind() != crate::template::Kind::Builtin
    {
        ctx.push(
            Finding::error(
                Rule::KindMismatch,
                node.file,
                uses.span.clone(),
                format!(
                    "`{}` is {} node, but `kind` defaults to `builtin`",
                    row.uses,
                    class_words(row.class)
                ),
            )
            .node_opt(id)
            .help(format!(
                "add `kind = \"{}\"`",
                row.class.required_kind().as_str()
            )),
        );
    }

    for (key, _) in &node.args {
        let shell_text = identity::shell_text_args().contains(&key.value.as_str());
        if shell_text && row.class == Class::Control {
            ctx.push(
                Finding::error(
                    Rule::ControlWithCommand,
                    node.file,
                    key.span.clone(),
                    format!("control node sets `args.{}`; control nodes decide, they never run commands", key.value),
                )
                .node_opt(id)
                .help("put the command in a gate `script`, or in a `cap.env.shell.command.run` node before this one"),
            );
            continue;
        }
        if shell_text && row.class == Class::Agent {
            continue; // `invoke-contract` names this one.
        }
        if !row.args.known.contains(&key.value.as_str()) {
            let help = if shell_text {
                format!(
                    "`{}` is a builtin operation and runs no shell text; use `cap.env.shell.command.run` for commands",
                    row.name
                )
            } else {
                match did_you_mean(&key.value, row.args.known.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if row.args.known.is_empty() => format!("`{}` takes no args", row.name),
                    None => format!(
                        "`{}` takes: {}",
                        row.name,
                        crate::template::walk::backticked(row.args.known)
                    ),
                }
            };
            ctx.push(
                Finding::error(
                    Rule::UnknownField,
                    node.file,
                    key.span.clone(),
                    format!("unknown arg `{}` for `{}`", key.value, row.name),
                )
                .node_opt(id)
                .help(help),
            );
        }
    }

    for group in row.args.required {
        let present = group
            .iter()
            .any(|name| node.arg(name).is_some_and(|v| !v.value.trim().is_empty()));
        if !present {
            let wanted = if group.len() == 1 {
                format!("`args.{}`", group[0])
            } else {
                format!(
                    "one of {}",
                    group
                        .iter()
                        .map(|n| format!("`args.{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            ctx.push(
                Finding::error(
                    Rule::OpContract,
                    node.file,
                    uses.span.clone(),
                    format!("`{}` needs {wanted}", row.name),
                )
                .node_opt(id)
                .help(format!("add `args = {{ {} = \"…\" }}`", group[0])),
            );
        }
    }
}

fn class_words(class: Class) -> String {
    match class {
        Class::Control => "a control".to_owned(),
        Class::Agent => "an `agent` executor".to_owned(),
        other => format!("an `{other}` executor"),
    }
}

/// Names the canonical label that replaced a legacy one, when there is one.
fn legacy_help(uses: &str) -> String {
    if uses.starts_with("cap.agent.") || uses.starts_with("vizier.agent") {
        return "agent steps are `cap.agent.invoke` (kind = \"agent\"), fed by a `prompt.resolve` node".to_owned();
    }
    let rest = uses
        .trim_start_matches("vizier.")
        .trim_start_matches("cap.");
    let replacement = IDENTITIES
        .iter()
        .find(|row| row.name == rest || row.uses.ends_with(&format!(".{rest}")));
    match replacement {
        Some(row) => format!("use `{}`", row.uses),
        None => {
            "legacy labels were removed; use a canonical label (see `vizier schema`)".to_owned()
        }
    }
}

/// The namespaces whose operations can be told apart by their last part.
const NAMESPACES: [&str; 3] = ["cap.env.builtin.", "cap.env.shell.", "control."];

fn unknown_help(uses: &str) -> String {
    let Some(prefix) = NAMESPACES.iter().copied().find(|p| uses.starts_with(p)) else {
        return match did_you_mean(uses, IDENTITIES.iter().map(|row| row.uses)) {
            Some(close) => format!("did you mean `{close}`?"),
            None => "custom commands are `cap.env.shell.command.run` nodes with `args.command`; there is no fallback for other labels".to_owned(),
        };
    };
    // Compare only what follows the namespace: a shared prefix would make any two labels look close.
    let op = &uses[prefix.len()..];
    let in_namespace: Vec<&str> = IDENTITIES
        .iter()
        .map(|r| r.uses)
        .filter(|u| u.starts_with(prefix))
        .collect();
    if let Some(close) = did_you_mean(op, in_namespace.iter().map(|u| &u[prefix.len()..])) {
        return format!("did you mean `{prefix}{close}`?");
    }
    // The right operation in the wrong namespace, e.g. `cap.env.builtin.command.run`.
    if let Some(row) = IDENTITIES.iter().find(|row| {
        NAMESPACES
            .iter()
            .any(|ns| row.uses.strip_prefix(ns) == Some(op))
    }) {
        return format!(
            "`{op}` is not under `{prefix}`; did you mean `{}`?",
            row.uses
        );
    }
    format!(
        "the `{prefix}*` labels are: {}",
        crate::template::walk::backticked(&in_namespace)
    )
}
