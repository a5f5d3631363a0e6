//! Artifact rules: `undeclared-artifact`, `prompt-contract`, `invoke-contract`.

use std::collections::HashSet;

use super::Ctx;
use crate::diagnostic::{Finding, Rule};
use crate::template::{Class, Op, Template};

use crate::template::PROMPT_TYPE;

pub fn check(ctx: &mut Ctx<'_>, template: &Template) {
    let declared: HashSet<&str> = template
        .artifact_contracts
        .iter()
        .filter_map(|c| c.id.as_ref().map(|s| s.value.as_str()))
        .collect();
    let produced_prompts: HashSet<&str> = template
        .nodes
        .iter()
        .flat_map(|n| n.produces.succeeded.iter())
        .filter(|a| a.value.type_id == PROMPT_TYPE)
        .map(|a| a.value.key.as_str())
        .collect();

    for node in &template.nodes {
        let id = node.id_str();
        let all_refs = node
            .needs
            .iter()
            .chain(node.produces.iter().flat_map(|(_, list)| list.iter()));
        for artifact in all_refs {
            if !declared.contains(artifact.value.type_id.as_str()) {
                ctx.push(
                    Finding::error(
                        Rule::UndeclaredArtifact,
                        node.file,
                        artifact.span.clone(),
                        format!("artifact type `{}` is not declared", artifact.value.type_id),
                    )
                    .node_opt(id)
                    .help(format!(
                        "add `[[artifact_contracts]]` with `id = \"{}\"` and `version = \"v1\"`",
                        artifact.value.type_id
                    )),
                );
            }
        }

        let Some(row) = node.identity() else { continue };
        let uses_span = node.uses_span();
        let command = node.arg("command");
        let script = node.arg("script");
        match row.op {
            Op::PromptResolve => {
                let prompts = node
                    .produces
                    .succeeded
                    .iter()
                    .filter(|a| a.value.type_id == PROMPT_TYPE)
                    .count();
                if prompts != 1 {
                    ctx.push(
                        Finding::error(
                            Rule::PromptContract,
                            node.file,
                            uses_span.clone(),
                            format!("`prompt.resolve` must produce exactly one `custom:prompt_text:<key>` on success, found {prompts}"),
                        )
                        .node_opt(id)
                        .help("add `produces = { succeeded = [{ custom = { type_id = \"prompt_text\", key = \"main\" } }] }`"),
                    );
                }
                if row.class == Class::EnvironmentBuiltin {
                    if let Some((key, _)) = node
                        .args
                        .iter()
                        .find(|(k, _)| k.value == "command" || k.value == "script")
                    {
                        ctx.push(
                            Finding::error(
                                Rule::PromptContract,
                                node.file,
                                key.span.clone(),
                                format!("builtin `prompt.resolve` sets `args.{}`", key.value),
                            )
                            .node_opt(id)
                            .help("use `prompt_text` or `prompt_file`, or `cap.env.shell.prompt.resolve` (kind = \"shell\") to take the prompt from a command"),
                        );
                    }
                } else if command.is_some() == script.is_some() {
                    let what = if command.is_some() { "both" } else { "neither" };
                    ctx.push(
                        Finding::error(
                            Rule::PromptContract,
                            node.file,
                            uses_span.clone(),
                            format!("shell `prompt.resolve` sets {what} of `args.command` and `args.script`"),
                        )
                        .node_opt(id)
                        .help("set exactly one; its stdout becomes the prompt"),
                    );
                }
            }
            Op::AgentInvoke => {
                let prompts: Vec<_> = node
                    .needs
                    .iter()
                    .filter(|a| a.value.type_id == PROMPT_TYPE)
                    .collect();
                if prompts.len() != 1 {
                    ctx.push(
                        Finding::error(
                            Rule::InvokeContract,
                            node.file,
                            uses_span.clone(),
                            format!("`agent.invoke` must need exactly one `custom:prompt_text:<key>`, found {}", prompts.len()),
                        )
                        .node_opt(id)
                        .help("add `needs = [{ custom = { type_id = \"prompt_text\", key = \"main\" } }]`"),
                    );
                } else if !produced_prompts.contains(prompts[0].value.key.as_str()) {
                    ctx.push(
                        Finding::error(
                            Rule::InvokeContract,
                            node.file,
                            prompts[0].span.clone(),
                            format!(
                                "no node produces the prompt `{}` this agent needs",
                                prompts[0].value
                            ),
                        )
                        .node_opt(id)
                        .help("add a `prompt.resolve` node that produces it on success"),
                    );
                }
                for (key, _) in node
                    .args
                    .iter()
                    .filter(|(k, _)| k.value == "command" || k.value == "script")
                {
                    ctx.push(
                        Finding::error(
                            Rule::InvokeContract,
                            node.file,
                            key.span.clone(),
                            format!("`agent.invoke` sets `args.{}`; the agent command comes from config", key.value),
                        )
                        .node_opt(id)
                        .help("configure it under `[agent]` (or `[agents.<alias>]`) in `.vizier/config.toml`"),
                    );
                }
            }
            _ => {}
        }
    }
}
