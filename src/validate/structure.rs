//! Graph rules: `duplicate-node`, `unknown-node-ref`, `cycle`, `terminal-routes`, and the
//! `unreachable-node` warning.

use std::collections::HashMap;

use super::Ctx;
use crate::diagnostic::{Finding, Rule, did_you_mean};
use crate::template::graph::{DepKind, Graph};
use crate::template::{Op, Outcome, Template};

pub fn check(ctx: &mut Ctx<'_>, template: &Template, graph: &Graph) {
    duplicates(ctx, template);
    dangling(ctx, template, graph);
    cycles(ctx, template, graph);
    terminal_routes(ctx, template);
    unreachable(ctx, template, graph);
}

fn duplicates(ctx: &mut Ctx<'_>, template: &Template) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, node) in template.nodes.iter().enumerate() {
        let Some(id) = &node.id else { continue };
        let Some(&earlier) = first.get(id.value.as_str()) else {
            first.insert(&id.value, index);
            continue;
        };
        let earlier = &template.nodes[earlier];
        let (line, _) = ctx.position(
            earlier.file,
            earlier.id.as_ref().map_or(0, |s| s.span.start),
        );
        // In a composition the first declaration may sit in another file.
        let place = if earlier.file == node.file {
            format!("line {line}")
        } else {
            format!("`{}` line {line}", ctx.path(earlier.file))
        };
        ctx.push(
            Finding::error(
                Rule::DuplicateNode,
                node.file,
                id.span.clone(),
                format!("node id `{}` is declared twice", id.value),
            )
            .node(&id.value)
            .help(format!(
                "the first `{}` is on {place}; give this node another id",
                id.value
            )),
        );
    }
}

/// How many dangling references get a "did you mean" search over every node id. Each search is
/// linear in the node count, so without a cap a template made of broken references costs quadratic
/// time; past the cap the help stays generic.
const SUGGESTED_REFS: usize = 64;

fn dangling(ctx: &mut Ctx<'_>, template: &Template, graph: &Graph) {
    for (k, d) in graph.dangling.iter().enumerate() {
        let node = &template.nodes[d.node];
        let suggestion = if k < SUGGESTED_REFS {
            did_you_mean(&d.name, template.nodes.iter().filter_map(|n| n.id_str()))
        } else {
            None
        };
        let help = suggestion
            .map(|c| format!("did you mean `{c}`?"))
            .unwrap_or_else(|| "name a node declared in this template".to_owned());
        ctx.push(
            Finding::error(
                Rule::UnknownNodeRef,
                d.file,
                d.span.clone(),
                format!(
                    "`{}` names node `{}`, which does not exist",
                    d.field, d.name
                ),
            )
            .node_opt(node.id_str())
            .help(help),
        );
    }
}

fn cycles(ctx: &mut Ctx<'_>, template: &Template, graph: &Graph) {
    for cycle in graph.cycles() {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&i| template.nodes[i].id_str().unwrap_or("?"))
            .collect();
        let mut path = names.join(" → ");
        path.push_str(" → ");
        path.push_str(names[0]);
        // Point at the edge that closes the cycle: the first node waiting on the last one.
        let last = *cycle.last().expect("non-empty cycle");
        let edge = graph.edge(last, cycle[0]).expect("cycle edge exists");
        ctx.push(
            Finding::error(
                Rule::Cycle,
                edge.file,
                edge.span.clone(),
                format!("dependency cycle: {path}"),
            )
            .node_opt(template.nodes[cycle[0]].id_str())
            .help("`after` entries and forward routes must point one way; a route back to an earlier node is a loop-back, not a dependency"),
        );
    }
}

fn terminal_routes(ctx: &mut Ctx<'_>, template: &Template) {
    for node in &template.nodes {
        if node.identity().map(|r| r.op) != Some(Op::Terminal) {
            continue;
        }
        for (outcome, targets) in node.on.iter() {
            for target in targets {
                ctx.push(
                    Finding::error(
                        Rule::TerminalRoutes,
                        node.file,
                        target.span.clone(),
                        format!(
                            "terminal node routes `on.{}` to `{}`",
                            outcome.as_str(),
                            target.value
                        ),
                    )
                    .node_opt(node.id_str())
                    .help("a terminal ends the run; route from the node before it instead"),
                );
            }
        }
    }
}

/// A forward `on.blocked` handler whose source can never end `blocked` would always be skipped.
fn unreachable(ctx: &mut Ctx<'_>, template: &Template, graph: &Graph) {
    let mut can_block = vec![false; template.nodes.len()];
    for (i, node) in template.nodes.iter().enumerate() {
        can_block[i] = matches!(
            node.identity().map(|r| r.op),
            Some(
                Op::GitIntegratePlanBranch
                    | Op::GateStopCondition
                    | Op::GateConflictResolution
                    | Op::GateApproval
                    | Op::GateCicd
            )
        );
    }
    for lb in &graph.loop_backs {
        can_block[lb.source] = true; // an exhausted loop-back budget ends the source `blocked`.
    }
    for (i, deps) in graph.deps.iter().enumerate() {
        for dep in deps {
            if dep.kind == DepKind::Handler(Outcome::Blocked) && !can_block[dep.upstream] {
                let source = &template.nodes[dep.upstream];
                ctx.push(
                    Finding::warning(
                        Rule::UnreachableNode,
                        dep.file,
                        dep.span.clone(),
                        format!(
                            "`{}` can never end `blocked`, so handler `{}` will always be skipped",
                            source.id_str().unwrap_or("?"),
                            template.nodes[i].id_str().unwrap_or("?")
                        ),
                    )
                    .node_opt(source.id_str())
                    .help("route `on.failed` instead, or remove the handler"),
                );
            }
        }
    }
}
