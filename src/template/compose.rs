//! Composition: given a composing template and its already-loaded stages, build the one
//! template that gets validated, compiled and hashed. Pure: loading the files is the caller's job.

use std::collections::{BTreeMap, HashMap};

use super::graph::Graph;
use super::{Node, Sp, Stage, Template};
use crate::diagnostic::{Finding, Rule};

/// A loaded stage: the import that named it and the (already composed) template it points at.
pub struct StageInput {
    pub name: Sp<String>,
    /// The composing file the import is written in.
    pub import_file: usize,
    pub path: String,
    pub template: Template,
}

/// The most nodes a composition may have. Every import is its own stage, so a file imported by two
/// stages is included twice, and a chain of files that each import the next twice doubles with each
/// level: the cap keeps validation linear in the files instead of exponential in their depth.
pub const MAX_COMPOSED_NODES: usize = 10_000;

/// The separator between a stage name and a node id in renamed nodes.
pub const STAGE_SEPARATOR: &str = "__";

fn renamed(stage: &str, id: &str) -> String {
    format!("{stage}{STAGE_SEPARATOR}{id}")
}

/// Builds the composition. Stage nodes come first in import order, then the composing file's own.
pub fn assemble(root: &Template, stages: Vec<StageInput>) -> (Template, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut out = Template {
        file: root.file,
        id: root.id.clone(),
        version: root.version.clone(),
        description: root.description.clone(),
        cli: root.cli.clone(),
        policy: root.policy.clone(),
        imports: root.imports.clone(),
        links: root.links.clone(),
        ..Template::default()
    };
    let mut params: BTreeMap<String, super::Param> = BTreeMap::new();
    let mut contracts: HashMap<String, super::ArtifactContract> = HashMap::new();
    let mut merge_params = |list: &[super::Param],
                            findings: &mut Vec<Finding>,
                            paths: &dyn Fn(usize) -> String| {
        for p in list {
            match params.get(&p.name.value) {
                Some(existing) if existing.default.value != p.default.value => {
                    findings.push(
                        Finding::error(
                            Rule::ParamConflict,
                            p.file,
                            p.name.span.clone(),
                            format!(
                                "param `{}` has default `{}` here but `{}` in {}",
                                p.name.value,
                                p.default.value,
                                existing.default.value,
                                paths(existing.file)
                            ),
                        )
                        .help("give the param one default in every stage, or override it in the composing file"),
                    );
                }
                Some(_) => {}
                None => {
                    params.insert(p.name.value.clone(), p.clone());
                }
            }
        }
    };
    // The composing file's own params win over the stages' (they are the override), so they go first.
    // Which stage each file came in through, to name it in conflict messages.
    let stage_paths: HashMap<usize, &str> = stages
        .iter()
        .flat_map(|s| {
            let files = s.template.params.iter().map(|p| p.file);
            let files = files.chain(s.template.artifact_contracts.iter().map(|c| c.file));
            files.map(|file| (file, s.path.as_str()))
        })
        .collect();
    let path_of = |file: usize| -> String {
        stage_paths
            .get(&file)
            .map_or_else(|| "the composing template".to_owned(), |p| format!("`{p}`"))
    };
    // The composing file's own params win over the stages' (they are the override), so they go first.
    merge_params(&root.params, &mut findings, &path_of);
    let own_names: Vec<String> = root.params.iter().map(|p| p.name.value.clone()).collect();
    for stage in &stages {
        let not_overridden: Vec<_> = stage
            .template
            .params
            .iter()
            .filter(|p| !own_names.contains(&p.name.value))
            .cloned()
            .collect();
        merge_params(&not_overridden, &mut findings, &path_of);
    }
    for list in std::iter::once(&root.artifact_contracts)
        .chain(stages.iter().map(|s| &s.template.artifact_contracts))
    {
        for c in list {
            let Some(id) = &c.id else { continue };
            match contracts.get(&id.value) {
                Some(existing)
                    if existing.version.as_ref().map(|v| &v.value)
                        != c.version.as_ref().map(|v| &v.value) =>
                {
                    let span = c
                        .version
                        .as_ref()
                        .map_or(c.span.clone(), |v| v.span.clone());
                    findings.push(
                        Finding::error(
                            Rule::ContractConflict,
                            c.file,
                            span,
                            format!(
                                "artifact contract `{}` has version `{}` here but `{}` in {}",
                                id.value,
                                c.version.as_ref().map_or("", |v| v.value.as_str()),
                                existing.version.as_ref().map_or("", |v| v.value.as_str()),
                                path_of(existing.file),
                            ),
                        )
                        .help("stages that share an artifact type must declare the same version"),
                    );
                }
                Some(_) => {}
                None => {
                    contracts.insert(id.value.clone(), c.clone());
                    out.artifact_contracts.push(c.clone());
                }
            }
        }
    }
    out.params = params.into_values().collect();

    // Rename each stage's nodes and remember its entry and terminal nodes.
    let mut stage_ends: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
    let mut stage_order: Vec<String> = Vec::new();
    for stage in &stages {
        let name = &stage.name.value;
        let graph = Graph::build(&stage.template);
        let dependents = graph.dependents();
        let start = out.nodes.len();
        let mut entries = Vec::new();
        let mut terminals = Vec::new();
        let has_terminal = stage.template.nodes.iter().any(is_terminal);
        for (i, node) in stage.template.nodes.iter().enumerate() {
            let mut node = node.clone();
            rename_node(&mut node, name);
            let id = node.id_str().unwrap_or_default().to_owned();
            if graph.deps[i].is_empty() {
                entries.push(id.clone());
            }
            let is_end = if has_terminal {
                is_terminal(&node)
            } else {
                dependents[i].is_empty()
            };
            if is_end {
                terminals.push(id);
            }
            out.nodes.push(node);
        }
        out.stages.push(Stage {
            name: name.clone(),
            template_id: stage.template.id.as_ref().map(|s| s.value.clone()),
            path: stage.path.clone(),
            nodes: start..out.nodes.len(),
        });
        stage_ends.insert(name.clone(), (entries, terminals));
        stage_order.push(name.clone());
    }
    out.nodes.extend(root.nodes.iter().cloned());

    // Links: check names, refuse cycles between stages, then add the dependencies.
    let mut stage_deps: HashMap<&str, Vec<&str>> = HashMap::new();
    for link in &root.links {
        let (Some(from), Some(to)) = (&link.from, &link.to) else {
            continue;
        };
        let mut known = true;
        for end in [from, to] {
            if !stage_ends.contains_key(&end.value) {
                known = false;
                let help = crate::diagnostic::did_you_mean(
                    &end.value,
                    stage_order.iter().map(String::as_str),
                )
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "the stages are: {}",
                        super::walk::backticked(
                            &stage_order.iter().map(String::as_str).collect::<Vec<_>>()
                        )
                    )
                });
                findings.push(
                    Finding::error(
                        Rule::UnknownStage,
                        link.file,
                        end.span.clone(),
                        format!("link names stage `{}`, which no import declares", end.value),
                    )
                    .help(help),
                );
            }
        }
        if !known {
            continue;
        }
        if from.value == to.value || reaches(&stage_deps, &from.value, &to.value) {
            findings.push(
                Finding::error(
                    Rule::Cycle,
                    link.file,
                    to.span.clone(),
                    format!(
                        "link `{}` → `{}` closes a cycle between stages",
                        from.value, to.value
                    ),
                )
                .help("stages must run in one direction; remove one of the links"),
            );
            continue;
        }
        stage_deps
            .entry(to.value.as_str())
            .or_default()
            .push(from.value.as_str());
        let (_, from_terminals) = &stage_ends[&from.value];
        let (to_entries, _) = &stage_ends[&to.value];
        for entry in to_entries {
            let node = out
                .nodes
                .iter_mut()
                .find(|n| n.id_str() == Some(entry.as_str()))
                .expect("entry node exists");
            for terminal in from_terminals {
                while node.after_files.len() < node.after.len() {
                    node.after_files.push(node.file);
                }
                node.after
                    .push(Sp::new(terminal.clone(), from.span.clone()));
                node.after_files.push(link.file);
            }
        }
    }
    (out, findings)
}

/// Does `to` already (transitively) come before `from`? Then `from → to` would close a cycle.
fn reaches(stage_deps: &HashMap<&str, Vec<&str>>, from: &str, to: &str) -> bool {
    let mut stack = vec![from];
    let mut seen = std::collections::HashSet::new();
    while let Some(s) = stack.pop() {
        if s == to {
            return true;
        }
        if seen.insert(s) {
            stack.extend(stage_deps.get(s).into_iter().flatten().copied());
        }
    }
    false
}

fn is_terminal(node: &Node) -> bool {
    node.uses
        .as_ref()
        .is_some_and(|u| u.value == "control.terminal")
}

fn rename_node(node: &mut Node, stage: &str) {
    if let Some(id) = &mut node.id {
        id.value = renamed(stage, &id.value);
    }
    for entry in &mut node.after {
        entry.value = renamed(stage, &entry.value);
    }
    for outcome in super::Outcome::ALL {
        for target in node.on.get_mut(outcome) {
            target.value = renamed(stage, &target.value);
        }
    }
    // `${nodes.<id>.outputs.<name>}` names a node of the same stage.
    let rename = |id: &str| renamed(stage, id);
    for (_, value) in &mut node.args {
        value.value = crate::template::output_refs::rename_refs(&value.value, rename);
    }
    for gate in &mut node.gates {
        if let Some(script) = &mut gate.script {
            script.value = crate::template::output_refs::rename_refs(&script.value, rename);
        }
    }
}
