//! Prompt files: the file a builtin `prompt.resolve` node names in `prompt_file` gets the same `${}`
//! substitution as args when the node runs, so validation reads it with the template (through the
//! same reader: work tree, index or commit) and checks its references where they are written:
//! `undeclared-param` and `output-ref` at the prompt file's own line and column.
//!
//! A `prompt_file` whose path cannot be known before the run (a param without a default), that
//! leaves the repository, or that does not exist here is not checked: the node fails at run time,
//! naming it.

use std::collections::{HashMap, HashSet};

use super::Ctx;
use super::output_ref::{check_value, success_upstream};
use crate::diagnostic::{Finding, Rule, SourceFile, SourceMap, did_you_mean};
use crate::error::Result;
use crate::template::graph::Graph;
use crate::template::params::{Piece, pieces, substitute};
use crate::template::{Class, Op, Sp, Template};
use crate::workspace::Reader;

/// Checks the prompt files of `template`'s own nodes (those written in file `own_file`; an imported
/// stage's were checked with the stage).
pub(super) fn check(
    reader: &dyn Reader,
    sources: &mut SourceMap,
    added: &mut HashMap<String, usize>,
    template: &Template,
    own_file: usize,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let defaults: HashMap<&str, &str> = template
        .params
        .iter()
        .map(|p| (p.name.value.as_str(), p.default.value.as_str()))
        .collect();
    let mut wanted = Vec::new();
    for (index, node) in template.nodes.iter().enumerate() {
        let builtin_prompt = node.identity().is_some_and(|row| {
            row.op == Op::PromptResolve && row.class == Class::EnvironmentBuiltin
        });
        if node.file != own_file || !builtin_prompt {
            continue;
        }
        let Some(value) = node.arg("prompt_file") else {
            continue;
        };
        let Ok(path) = substitute(&value.value, |n| defaults.get(n).copied()) else {
            continue;
        };
        let path = path.trim().trim_start_matches("./").to_owned();
        if path.is_empty()
            || path.starts_with('/')
            || path.split('/').any(|part| part == ".." || part.is_empty())
        {
            continue;
        }
        let file = match added.get(&path) {
            Some(&file) => file,
            None => {
                let Some(text) = reader.read(&path)? else {
                    continue;
                };
                let file = sources.add(SourceFile::new(path.as_str(), text));
                added.insert(path.clone(), file);
                file
            }
        };
        wanted.push((index, file));
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let graph = Graph::build(template);
    let declared: HashSet<&str> = defaults.keys().copied().collect();
    let mut ctx = Ctx { sources, findings };
    for (index, file) in wanted {
        let node = &template.nodes[index];
        let text = ctx.sources.get(file).text.clone();
        let base = text.as_ptr() as usize;
        for piece in pieces(&text) {
            let Piece::Ref(name) = piece else { continue };
            if crate::template::output_refs::parse_ref(name).is_some() || declared.contains(name) {
                continue;
            }
            let start = name.as_ptr() as usize - base - 2;
            let help = did_you_mean(name, declared.iter().copied())
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| {
                    format!("declare `{name}` in `[params]` of the template, or write `$${{` for a literal `${{`")
                });
            ctx.push(
                Finding::error(
                    Rule::UndeclaredParam,
                    file,
                    start..start + name.len() + 3,
                    format!(
                        "`${{{name}}}` in this prompt file (of node `{}`) names a param that `[params]` does not declare",
                        node.id_str().unwrap_or("?")
                    ),
                )
                .node_opt(node.id_str())
                .help(help),
            );
        }
        let upstream = success_upstream(&graph, index);
        let whole = Sp::new(text.clone(), 0..text.len());
        check_value(
            &mut ctx, template, &graph, node, &upstream, file, &whole, true,
        );
    }
    Ok(())
}
