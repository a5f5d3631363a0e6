//! Paths a node names for vizier to read (`prompt_file`, `spec_file`, the patch `files` list) stay
//! inside the repository: a literal absolute path or a `..` part is an `invalid-field` at
//! validation, not a failure when the node runs. Only the text is judged — nothing is looked up on
//! disk, so validation never tells whether some outside path exists. (Parts that come from
//! `${params}` are judged again, resolved, when the node runs.)

use super::Ctx;
use crate::diagnostic::{Finding, Rule};
use crate::template::Node;
use crate::template::params::{Piece, pieces};

/// Why a path written in a template leaves the repository, if it does.
fn leaves(path: &str) -> Option<&'static str> {
    // Judge only the literal text: a `${param}` part may be anything until it is resolved.
    let literal: Vec<&str> = pieces(path)
        .into_iter()
        .map(|p| match p {
            Piece::Literal(s) | Piece::Unclosed(s) => s,
            Piece::Ref(_) => "\0",
        })
        .collect();
    let literal = literal.concat();
    if literal.starts_with('/') || literal.starts_with('\\') || literal.starts_with('~') {
        return Some("is absolute");
    }
    if literal.split(['/', '\\']).any(|part| part == "..") {
        return Some("has a `..` part");
    }
    None
}

pub fn check(ctx: &mut Ctx<'_>, node: &Node) {
    for name in ["prompt_file", "spec_file"] {
        let Some(value) = node.arg(name) else {
            continue;
        };
        if let Some(why) = leaves(&value.value) {
            ctx.push(finding(node, name, &value.value, why, value.span.clone()));
        }
    }
    if let Some(value) = node.arg("files")
        && let Ok(files) = serde_json::from_str::<Vec<String>>(&value.value)
    {
        for file in files {
            if let Some(why) = leaves(&file) {
                ctx.push(finding(node, "files", &file, why, value.span.clone()));
            }
        }
    }
}

fn finding(node: &Node, arg: &str, path: &str, why: &str, span: std::ops::Range<usize>) -> Finding {
    Finding::error(
        Rule::InvalidField,
        node.file,
        span,
        format!("`args.{arg}` path `{path}` {why}: it would leave the repository"),
    )
    .node_opt(node.id_str())
    .help("name a path relative to the repository root, inside it")
}
