//! `output-in-shell`: a node output is data, never shell source. In a shell node's `command` /
//! `script`, a control node's args or a gate `script`, `${nodes.<id>.outputs.<name>}` would splice
//! whatever the upstream node wrote into the script; the script reads the environment variable
//! `VIZIER_OUTPUT_<NODE>_<NAME>` instead (quoted by the script itself).

use super::Ctx;
use super::output_ref::{args_are_shell, ref_span};
use crate::diagnostic::{Finding, Rule};
use crate::template::output_refs::{env_name, refs_in};
use crate::template::{Node, Sp, Template};

pub fn check(ctx: &mut Ctx<'_>, template: &Template) {
    for node in &template.nodes {
        let shell_args = args_are_shell(node)
            .then_some(node.args.iter().map(|(_, v)| v))
            .into_iter()
            .flatten();
        let scripts = node.gates.iter().filter_map(|g| g.script.as_ref());
        for value in shell_args.chain(scripts) {
            report(ctx, node, value);
        }
    }
}

fn report(ctx: &mut Ctx<'_>, node: &Node, value: &Sp<String>) {
    for (range, target, name) in refs_in(&value.value) {
        let span = ref_span(ctx, node.file, value, &range);
        let var = env_name(target, name);
        ctx.push(
            Finding::error(
                Rule::OutputInShell,
                node.file,
                span,
                format!(
                    "`{}` in shell text would run whatever node `{target}` wrote as shell source",
                    &value.value[range]
                ),
            )
            .node_opt(node.id_str())
            .help(format!(
                "read the environment variable instead: \"${var}\" (quoted)"
            )),
        );
    }
}
