//! `missing-producer`: a `needs` entry that no node produces. The scheduler waits for each need
//! until a node of the same run writes it, so a need nobody produces can only end the run
//! `blocked_by_dependency`; validation says so first.
//!
//! In a composition the producer may be in any stage, or in the composing file's own nodes. A
//! `prompt_text` need of an `agent.invoke` node is `invoke-contract`'s (one finding per problem).

use super::Ctx;
use crate::diagnostic::{Finding, Rule};
use crate::template::{ArtifactRef, Node, Op, PROMPT_TYPE, Template};

pub fn check(ctx: &mut Ctx<'_>, template: &Template) {
    for (index, node) in template.nodes.iter().enumerate() {
        let is_agent = node.identity().is_some_and(|row| row.op == Op::AgentInvoke);
        for need in &node.needs {
            if is_agent && need.value.type_id == PROMPT_TYPE {
                continue;
            }
            // A node cannot wait for what only it makes: that need would never be met.
            let produced_elsewhere = template
                .nodes
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .any(|(_, n)| produces(n, &need.value));
            if produced_elsewhere {
                continue;
            }
            let own = produces(node, &need.value);
            ctx.push(
                Finding::error(
                    Rule::MissingProducer,
                    node.file,
                    need.span.clone(),
                    if own {
                        format!("`{}` is needed by the node that produces it; no other node produces it", need.value)
                    } else {
                        format!("no node produces `{}`", need.value)
                    },
                )
                .node_opt(node.id_str())
                .help(format!(
                    "add it to the `produces` of the node that makes it (`produces = {{ succeeded = [{{ custom = {{ type_id = \"{}\", key = \"{}\" }} }}] }}`), or remove this need",
                    need.value.type_id, need.value.key
                )),
            );
        }
    }
}

/// Whether `node` produces `artifact` on any outcome.
fn produces(node: &Node, artifact: &ArtifactRef) -> bool {
    node.produces
        .iter()
        .any(|(_, list)| list.iter().any(|a| a.value == *artifact))
}
