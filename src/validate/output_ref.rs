//! `output-ref`: `${nodes.<id>.outputs.<name>}` in a builtin or agent node's args (or in a prompt
//! file) must name a node that exists and is upstream of the consumer along success edges — the
//! only nodes sure to have run, and to have succeeded, before it starts. Output references where
//! no output can be substituted (`retry.budget`, lock keys) are reported too.

use std::collections::HashSet;

use super::Ctx;
use crate::diagnostic::{Finding, Rule, did_you_mean};
use crate::template::graph::{DepKind, Graph};
use crate::template::output_refs::refs_in;
use crate::template::{Class, Node, Sp, Span, Template};

/// Whether the node's args are shell text (shell executors and control nodes): those are
/// `output-in-shell`'s, not this rule's.
pub(super) fn args_are_shell(node: &Node) -> bool {
    match node.identity() {
        Some(row) => row.class == Class::EnvironmentShell || row.class == Class::Control,
        None => false,
    }
}

/// The span of one reference inside a string value: its exact place when the source spells it
/// as written (no escapes inside), else the whole value.
pub(super) fn ref_span(
    ctx: &Ctx<'_>,
    file: usize,
    value: &Sp<String>,
    range: &std::ops::Range<usize>,
) -> Span {
    let text = &ctx.sources.get(file).text;
    let Some(raw) = text.get(value.span.clone()) else {
        return value.span.clone();
    };
    let wanted = &value.value[range.clone()];
    // The how-many-th occurrence of this reference text in the value is the same one in the source.
    let nth = value.value[..range.start].matches(wanted).count();
    match raw.match_indices(wanted).nth(nth) {
        Some((at, _)) => value.span.start + at..value.span.start + at + wanted.len(),
        None => value.span.clone(),
    }
}

/// Nodes upstream of `index` along success edges (`after`, forward `on.succeeded`).
pub(super) fn success_upstream(graph: &Graph, index: usize) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut stack = vec![index];
    while let Some(i) = stack.pop() {
        for dep in graph.deps.get(i).into_iter().flatten() {
            if dep.kind == DepKind::Success && seen.insert(dep.upstream) {
                stack.push(dep.upstream);
            }
        }
    }
    seen
}

pub fn check(ctx: &mut Ctx<'_>, template: &Template, graph: &Graph) {
    for (index, node) in template.nodes.iter().enumerate() {
        // Walked only for a node whose args hold a reference: walking every node's upstream made
        // a chain of N nodes cost O(N²) to validate (and to run).
        let shell = args_are_shell(node);
        let referring = !shell && node.args.iter().any(|(_, v)| !refs_in(&v.value).is_empty());
        let upstream = if referring {
            success_upstream(graph, index)
        } else {
            HashSet::new()
        };
        if !shell {
            for (_, value) in &node.args {
                check_value(
                    ctx, template, graph, node, &upstream, node.file, value, false,
                );
            }
        }
        let fixed = node
            .retry
            .iter()
            .filter_map(|r| r.budget.as_ref().map(|b| ("retry.budget", b)))
            .chain(node.locks.iter().map(|l| ("a lock key", &l.key)));
        for (what, value) in fixed {
            for (range, _, _) in refs_in(&value.value) {
                let span = ref_span(ctx, node.file, value, &range);
                ctx.push(
                    Finding::error(
                        Rule::OutputRef,
                        node.file,
                        span,
                        format!(
                            "`{}` cannot be used in {what}: it is fixed before any node runs",
                            &value.value[range]
                        ),
                    )
                    .node_opt(node.id_str())
                    .help("use a param (`${name}`) here; outputs are for builtin args and prompt files"),
                );
            }
        }
    }
}

/// Checks the references of one text made by `consumer`: an arg value, or (`whole_file`) the whole
/// content of a prompt file, whose offsets are the file's own.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_value(
    ctx: &mut Ctx<'_>,
    template: &Template,
    graph: &Graph,
    consumer: &Node,
    upstream: &HashSet<usize>,
    file: usize,
    value: &Sp<String>,
    whole_file: bool,
) {
    for (range, target, name) in refs_in(&value.value) {
        let span = if whole_file {
            value.span.start + range.start..value.span.start + range.end
        } else {
            ref_span(ctx, file, value, &range)
        };
        let shown = &value.value[range.clone()];
        let finding = match graph.index.get(target) {
            None => {
                let ids = template.nodes.iter().filter_map(|n| n.id_str());
                let help = match did_you_mean(target, ids) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "name a node of this template that runs before this one".to_owned(),
                };
                Finding::error(
                    Rule::OutputRef,
                    file,
                    span,
                    format!("`{shown}` names node `{target}`, which does not exist"),
                )
                .help(help)
            }
            Some(i) if !upstream.contains(i) => Finding::error(
                Rule::OutputRef,
                file,
                span,
                format!(
                    "`{shown}` names node `{target}`, which is not upstream of `{}` along success edges, so it may not have run",
                    consumer.id_str().unwrap_or("?")
                ),
            )
            .help(format!(
                "make `{}` run after it: `after = [{{ node_id = \"{target}\" }}]` (output `{name}`)",
                consumer.id_str().unwrap_or("?")
            )),
            Some(_) => continue,
        };
        ctx.push(finding.node_opt(consumer.id_str()));
    }
}
