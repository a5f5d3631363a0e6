//! Per-node contracts: `undeclared-param`, `command-contract`, `gate-contract`, `retry-loop`, and a
//! gate `script` that is required but absent (`missing-field`).

use std::collections::HashSet;

use super::Ctx;
use crate::diagnostic::{Finding, Rule};
use crate::template::graph::Graph;
use crate::template::params::{references, substitute};
use crate::template::{GateKind, Op, Outcome, RetryMode, Template};

pub fn check(ctx: &mut Ctx<'_>, template: &Template, graph: &Graph) {
    let declared: HashSet<&str> = template
        .params
        .iter()
        .map(|p| p.name.value.as_str())
        .collect();
    let mut first_cicd_gate_node: Option<&str> = None;

    // Param defaults may use other params (`branch = "draft/${slug}"`): every name must exist, and
    // they must not refer to each other in a circle.
    for param in &template.params {
        for name in references(&param.default.value) {
            if !declared.contains(name) {
                ctx.push(
                    Finding::error(
                        Rule::UndeclaredParam,
                        param.file,
                        param.default.span.clone(),
                        format!("`${{{name}}}` names a param that `[params]` does not declare"),
                    )
                    .help(format!(
                        "declare `{name}` in `[params]`, or write `$${{` for a literal `${{`"
                    )),
                );
            }
        }
    }
    if let Some((at, len)) = crate::template::param_graph::first_overflow(&template.params) {
        let param = &template.params[at];
        ctx.push(
            Finding::error(
                Rule::InvalidField,
                param.file,
                param.default.span.clone(),
                format!(
                    "param `{}` expands to {len} bytes, more than the limit of {} bytes",
                    param.name.value,
                    crate::template::param_graph::MAX_EXPANDED
                ),
            )
            .help("a param that names params several times grows with each level; name it once"),
        );
    }
    if let Some(param) =
        crate::template::param_graph::first_on_cycle(&template.params).map(|i| &template.params[i])
    {
        ctx.push(
            Finding::error(
                Rule::Cycle,
                param.file,
                param.default.span.clone(),
                format!(
                    "param `{}` refers back to itself through `${{…}}`",
                    param.name.value
                ),
            )
            .help("params may use other params, but not in a circle"),
        );
    }

    for (index, node) in template.nodes.iter().enumerate() {
        let id = node.id_str();

        // undeclared-param: every place `${}` is substituted.
        let texts = node
            .args
            .iter()
            .map(|(_, v)| v)
            .chain(node.gates.iter().filter_map(|g| g.script.as_ref()))
            .chain(node.retry.iter().filter_map(|r| r.budget.as_ref()))
            .chain(node.locks.iter().map(|l| &l.key))
            .chain(node.preconditions.iter().filter_map(|p| match p {
                crate::template::Precondition::BranchExists(branch) => Some(branch),
                crate::template::Precondition::CleanWorktree => None,
            }));
        for text in texts {
            for name in references(&text.value) {
                // `${nodes.<id>.outputs.<name>}` is an output reference: `output-ref` checks it.
                if !declared.contains(name)
                    && crate::template::output_refs::parse_ref(name).is_none()
                {
                    let help = crate::diagnostic::did_you_mean(name, declared.iter().copied())
                        .map(|c| format!("did you mean `{c}`?"))
                        .or_else(|| {
                            crate::template::output_refs::is_output_ref(name).then(|| {
                                "a node output is written `${nodes.<id>.outputs.<name>}`".to_owned()
                            })
                        })
                        .unwrap_or_else(|| format!("declare it: `[params]` `{name} = \"…\"` (or write `$${{` for a literal `${{`)"));
                    ctx.push(
                        Finding::error(
                            Rule::UndeclaredParam,
                            node.file,
                            text.span.clone(),
                            format!("`${{{name}}}` names a param that `[params]` does not declare"),
                        )
                        .node_opt(id)
                        .help(help),
                    );
                }
            }
        }

        for gate in &node.gates {
            let needs_script = matches!(
                gate.kind.as_ref().map(|k| k.value),
                Some(GateKind::Cicd | GateKind::Script)
            );
            if needs_script
                && gate
                    .script
                    .as_ref()
                    .is_none_or(|s| s.value.trim().is_empty())
            {
                ctx.push(
                    Finding::error(
                        Rule::MissingField,
                        node.file,
                        gate.span.clone(),
                        format!(
                            "`{}` gate needs a `script`",
                            gate.kind.as_ref().map_or("", |k| k.value.as_str())
                        ),
                    )
                    .node_opt(id)
                    .help("add `script = \"./ci.sh\"` (shell text, run in the execution root)"),
                );
            }
        }

        let Some(row) = node.identity() else { continue };
        let uses_span = node.uses_span();
        let has_command = node.arg("command").is_some();
        let has_script = node.arg("script").is_some();
        let gates_of = |kind: GateKind| {
            node.gates
                .iter()
                .filter(move |g| g.kind.as_ref().map(|k| k.value) == Some(kind))
        };

        if matches!(row.op, Op::CommandRun | Op::CicdRun) {
            let cicd_gate_script =
                row.op == Op::CicdRun && gates_of(GateKind::Cicd).any(|g| g.script.is_some());
            let problem = match (has_command, has_script) {
                (true, true) => Some("sets both `args.command` and `args.script`"),
                (false, false) if !cicd_gate_script => {
                    Some("sets neither `args.command` nor `args.script`")
                }
                _ => None,
            };
            if let Some(problem) = problem {
                ctx.push(
                    Finding::error(Rule::CommandContract, node.file, uses_span.clone(), format!("`{}` {problem}", row.name))
                        .node_opt(id)
                        .help("set exactly one: `command` (a command line) or `script` (a path or shell text)"),
                );
            }
        }

        let gate_problem = |message: String, help: &str| {
            Finding::error(Rule::GateContract, node.file, uses_span.clone(), message)
                .node_opt(id)
                .help(help.to_owned())
        };
        match row.op {
            Op::GateCicd => {
                let count = gates_of(GateKind::Cicd).count();
                if count != 1 {
                    ctx.push(gate_problem(
                        format!("`gate.cicd` needs exactly one `cicd` gate, found {count}"),
                        "add `gates = [{ kind = \"cicd\", script = \"./ci.sh\" }]`",
                    ));
                }
                match first_cicd_gate_node {
                    Some(first) => ctx.push(gate_problem(
                        format!("a template may hold one `gate.cicd` node; `{first}` is already one"),
                        "merge the checks into one CI script, or use `cap.env.shell.cicd.run` nodes",
                    )),
                    None => first_cicd_gate_node = id.or(Some("?")),
                }
            }
            Op::GateStopCondition => {
                let scripts = gates_of(GateKind::Script).count();
                if scripts > 1 {
                    ctx.push(gate_problem(
                        format!(
                            "`gate.stop_condition` takes at most one `script` gate, found {scripts}"
                        ),
                        "combine the checks into one script",
                    ));
                }
            }
            Op::GateApproval if gates_of(GateKind::Approval).count() == 0 => {
                ctx.push(gate_problem(
                    "`gate.approval` needs an `approval` gate".to_owned(),
                    "add `gates = [{ kind = \"approval\" }]`",
                ));
            }
            Op::GateConflictResolution => {
                let scripts = gates_of(GateKind::Script).count();
                if scripts > 1 {
                    ctx.push(gate_problem(
                        format!("`gate.conflict_resolution` takes at most one resolver `script` gate, found {scripts}"),
                        "combine the resolvers into one script",
                    ));
                }
            }
            Op::Terminal if !node.gates.is_empty() => {
                ctx.push(gate_problem(
                    "a terminal takes no gates".to_owned(),
                    "put the gate on a `control.gate.*` node before the terminal",
                ));
            }
            _ => {}
        }

        if let Some(retry) = &node.retry {
            let until_gate = retry
                .mode
                .as_ref()
                .is_some_and(|m| m.value == RetryMode::UntilGate);
            let loops_back_on_failure = graph
                .loop_backs
                .iter()
                .any(|lb| lb.source == index && lb.outcome == Outcome::Failed);
            if until_gate && !loops_back_on_failure {
                ctx.push(
                    Finding::error(
                        Rule::RetryLoop,
                        node.file,
                        retry.mode.as_ref().map_or(retry.span.clone(), |m| m.span.clone()),
                        "`retry.mode = \"until_gate\"` without a backward `on.failed` route".to_owned(),
                    )
                    .node_opt(id)
                    .help("add `on = { failed = [\"<earlier node>\"] }` so a failed gate loops back to the work"),
                );
            }
            if let Some(budget) = &retry.budget {
                let lookup = |name: &str| {
                    template
                        .params
                        .iter()
                        .find(|p| p.name.value == name)
                        .map(|p| p.default.value.as_str())
                };
                // An undeclared param is already reported; only judge what substitutes cleanly.
                if let Ok(text) = substitute(&budget.value, lookup)
                    && text.trim().parse::<u32>().is_err()
                {
                    ctx.push(
                        Finding::error(
                            Rule::RetryLoop,
                            node.file,
                            budget.span.clone(),
                            format!("`retry.budget` must be a whole number ≥ 0, found `{text}`"),
                        )
                        .node_opt(id)
                        .help("e.g. `budget = 3` (three re-runs, four runs in all)"),
                    );
                }
            }
        }
    }
}
