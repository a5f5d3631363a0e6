//! `vizier run`: validate, compile, materialize, then drive the run in the foreground.

use std::time::Instant;

use super::Output;
use super::args::{RunArgs, RunFormat};
use crate::diagnostic::render_human;
use crate::error::Result;
use crate::exit;
use crate::launch::{self, Prepared};
use crate::runner;
use crate::store::{Manifest, Status, Store};

pub fn run(args: RunArgs, out: &mut Output) -> Result<u8> {
    out.set_quiet(args.quiet);
    out.set_json_errors(args.format == RunFormat::Json);
    let cwd = super::current_dir()?;
    let ws = super::vizier_workspace(&cwd)?;
    let (config, config_report) = launch::load_config(&ws.root)?;
    if let Some(report) = config_report {
        findings(&report, args.format, out);
        return Ok(exit::FAILED);
    }
    let args = own_flags_after_inputs(args)?;
    let Some(template) = args.template.as_deref() else {
        return super::run_help::general(out);
    };
    let resolved = launch::resolve(&ws, &cwd, template, config.as_ref())?;
    if args.help {
        return super::run_help::template(&ws.root, &resolved, out);
    }
    let store = Store::new(&ws.root);
    for after in &args.after {
        if !crate::store::ids::is_run_id(after) || store.load_manifest(after)?.is_none() {
            return Err(crate::error::Error::Usage(format!(
                "--after {after}: no such run (list runs with `vizier jobs schedule`)"
            )));
        }
    }
    let trigger = launch::local_trigger(&ws.root);
    let inputs = launch::RunInputs {
        sets: args.set.clone(),
        words: args.inputs.clone(),
        after: args.after.clone(),
    };
    let prepared = launch::prepare_run(&ws.root, &resolved, &inputs, trigger, args.user_config);
    let mut plan = match prepared? {
        Prepared::Invalid(report) => {
            findings(&report, args.format, out);
            if args.format == RunFormat::Text {
                out.write_always(&format!(
                    "failed: {} error(s); nothing was run or written\n",
                    report.errors()
                ));
            }
            return Ok(exit::FAILED);
        }
        Prepared::Ready(plan) => *plan,
    };

    if args.dry_run {
        store.assign_free_run_id(&mut plan);
        match args.format {
            RunFormat::Json => {
                let jobs: Vec<_> = plan
                    .nodes
                    .iter()
                    .map(|n| {
                        serde_json::json!({
                            "job_id": n.job_id,
                            "node_id": n.node_id,
                            "uses": n.uses,
                            "after": n.deps.iter().map(|d| plan.nodes[d.node].job_id.clone()).collect::<Vec<_>>(),
                            "locks": n.locks,
                        })
                    })
                    .collect();
                let text = super::output::versioned(
                    &[
                        ("run_id", serde_json::json!(plan.run_id)),
                        ("template", serde_json::json!(plan.template)),
                        ("params", serde_json::json!(plan.params)),
                        ("after_runs", serde_json::json!(plan.after_runs)),
                        ("jobs", serde_json::json!(jobs)),
                    ],
                    true,
                );
                out.write(&format!("{text}\n"));
            }
            RunFormat::Text => {
                out.write(&format!(
                    "would create run {} ({} {}), {} jobs:\n",
                    plan.run_id,
                    plan.template.id,
                    plan.template.version,
                    plan.nodes.len()
                ));
                for n in &plan.nodes {
                    let after: Vec<&str> = n
                        .deps
                        .iter()
                        .map(|d| plan.nodes[d.node].node_id.as_str())
                        .collect();
                    out.write(&format!(
                        "  {}  {}{}{}\n",
                        n.job_id,
                        n.uses,
                        if after.is_empty() {
                            String::new()
                        } else {
                            format!("  after {}", after.join(", "))
                        },
                        super::run_help::locks_text(&n.locks)
                    ));
                }
            }
        }
        return Ok(exit::OK);
    }

    if !plan.after_runs.is_empty() && args.format == RunFormat::Text {
        // Printed before anything waits, so the person sees why nothing starts yet.
        out.write(&format!(
            "waits for run(s) {}\n",
            plan.after_runs.join(", ")
        ));
    }
    if args.detach {
        let manifest = launch::start_detached(&store, &mut plan)?;
        match args.format {
            RunFormat::Json => out.write(&format!(
                "{}\n",
                super::output::versioned(
                    &[
                        ("run_id", serde_json::json!(manifest.run_id)),
                        (
                            "jobs",
                            serde_json::json!(
                                manifest.nodes.iter().map(|n| &n.job_id).collect::<Vec<_>>()
                            )
                        ),
                    ],
                    false
                )
            )),
            RunFormat::Text => out.write(&format!(
                "started run {} ({} jobs); follow it with `vizier jobs list --run {}`\n",
                manifest.run_id,
                manifest.nodes.len(),
                manifest.run_id
            )),
        }
        return Ok(exit::OK);
    }

    launch::materialize(&store, &mut plan, true)?;
    let started = Instant::now();
    let text = args.format == RunFormat::Text;
    if text {
        out.write(&format!(
            "run {} · {} {} · {} nodes\n",
            plan.run_id,
            plan.template.id,
            plan.template.version,
            plan.nodes.len()
        ));
    }
    let mut seen: Vec<Option<(Status, u32)>> = Vec::new();
    // On a terminal, a status line under the node lines is redrawn as the run moves.
    let live = text && out.is_terminal();
    let final_manifest = runner::drive(&store, &plan.run_id, &mut |m: &Manifest| {
        if text {
            let lines = report_changes(m, &mut seen);
            if live {
                // The status line never reaches the last column: a wrapped line could not be
                // erased by the next redraw and would stay behind as a copy. The width is read
                // on every redraw, so a resized terminal is followed.
                let width = out.terminal_width().unwrap_or(80);
                out.write(&format!(
                    "\r\x1b[2K{lines}{}",
                    fit(
                        &format!(
                            "{}{}",
                            status_line(m, started.elapsed()),
                            super::progress::agent_progress(&store, m)
                        ),
                        width.saturating_sub(1)
                    )
                ));
            } else {
                out.write(&lines);
            }
        }
    })?;
    if live {
        out.write("\r\x1b[2K");
    }
    let succeeded = final_manifest.succeeded();
    let interrupted = runner::interrupt::received();
    match args.format {
        RunFormat::Json => {
            let text = serde_json::to_string_pretty(&final_manifest).expect("serializes");
            out.write(&format!("{text}\n"));
        }
        RunFormat::Text => {
            let failures = crate::failure::failures(&store, &final_manifest);
            let fence = crate::ci::github::Runner::from_env().actions;
            out.write_always(&super::failure::render(&failures, fence));
            let mut counts: Vec<(Status, usize)> = Vec::new();
            for n in &final_manifest.nodes {
                match counts.iter_mut().find(|(s, _)| *s == n.status) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((n.status, 1)),
                }
            }
            let summary: Vec<String> = counts.iter().map(|(s, c)| format!("{c} {s}")).collect();
            out.write(&format!(
                "run {} {} in {:.1}s ({})\n",
                final_manifest.run_id,
                final_manifest.outcome.map_or("ended", |o| o.as_str()),
                started.elapsed().as_secs_f64(),
                summary.join(", ")
            ));
        }
    }
    if let Some(signal) = interrupted {
        out.error_text(&format!(
            "vizier: interrupted by {}; run {} stopped (resume it with `vizier jobs retry {}`)\n",
            runner::interrupt::signal_name(signal),
            final_manifest.run_id,
            final_manifest.run_id
        ));
        return Ok(runner::interrupt::exit_code(signal));
    }
    Ok(if succeeded { exit::OK } else { exit::FAILED })
}

/// `vizier run <alias> <inputs...> --detach`: clap puts every word after the first input into
/// `inputs`; `vizier run`'s own flags among them are taken back out and parsed as its flags.
fn own_flags_after_inputs(mut args: RunArgs) -> Result<RunArgs> {
    use clap::CommandFactory;
    let command = super::args::Cli::command();
    let Some(run) = command.find_subcommand("run") else {
        return Ok(args);
    };
    let mut own = Vec::new();
    let mut rest = Vec::new();
    let mut words = std::mem::take(&mut args.inputs).into_iter();
    while let Some(word) = words.next() {
        if word == "--" {
            rest.push(word);
            rest.extend(words.by_ref());
            break;
        }
        let name = word
            .strip_prefix("--")
            .map(|w| w.split('=').next().unwrap_or(w));
        // The subcommand's own flags, and the global ones (`--color`) declared on the root.
        let arg = run
            .get_arguments()
            .chain(command.get_arguments().filter(|a| a.is_global_set()))
            .find(|a| {
                name.is_some_and(|n| a.get_long() == Some(n))
                    || a.get_short().is_some_and(|s| word == format!("-{s}"))
            });
        match arg {
            Some(a) if a.get_id() != "inputs" => {
                let takes_value = a.get_action().takes_values();
                own.push(word.clone());
                if takes_value && !word.contains('=') {
                    own.extend(words.next());
                }
            }
            _ => rest.push(word),
        }
    }
    args.inputs = rest;
    if own.is_empty() {
        return Ok(args);
    }
    let mut argv = vec!["vizier".to_owned(), "run".to_owned()];
    argv.extend(own);
    // The alias was already read; a stand-in fills the required positional.
    argv.extend(["--".to_owned(), "-".to_owned()]);
    let extra = match <super::args::Cli as clap::Parser>::try_parse_from(argv) {
        Ok(cli) => match cli.command {
            super::args::Command::Run(extra) => extra,
            _ => return Ok(args),
        },
        Err(e) => e.exit(),
    };
    args.set.extend(extra.set);
    args.after.extend(extra.after);
    args.detach |= extra.detach;
    args.dry_run |= extra.dry_run;
    args.user_config |= extra.user_config;
    args.quiet |= extra.quiet;
    args.help |= extra.help;
    if extra.format != RunFormat::default() {
        args.format = extra.format;
    }
    Ok(args)
}

/// The findings that stop a run: annotated snippets, or under `--format json` the document
/// `vizier validate --format json` prints, so stdout stays one JSON document.
fn findings(report: &crate::validate::Report, format: RunFormat, out: &mut Output) {
    match format {
        RunFormat::Json => out.write_always(&crate::diagnostic::render_json(
            &report.files,
            &report.diagnostics,
        )),
        RunFormat::Text => out.write_always(&render_human(
            &report.diagnostics,
            &report.sources,
            out.color(),
        )),
    }
}

/// `line` cut to `width` terminal columns (wide characters count two), with `…` marking the cut.
fn fit(line: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if unicode_width::UnicodeWidthStr::width(line) <= width {
        return line.to_owned();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in line.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width.saturating_sub(1) {
            break;
        }
        used += w;
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// The live status: how many nodes ended, which run, and for how long.
fn status_line(m: &Manifest, elapsed: std::time::Duration) -> String {
    let done = m.nodes.iter().filter(|n| n.status.is_terminal()).count();
    let running: Vec<&str> = m
        .nodes
        .iter()
        .filter(|n| n.status == Status::Running)
        .map(|n| n.node_id.as_str())
        .collect();
    let waiting = m
        .nodes
        .iter()
        .filter(|n| matches!(n.status, Status::WaitingOnApproval | Status::WaitingOnLocks))
        .count();
    let mut line = format!(
        "  {done}/{} done · {:.0}s",
        m.nodes.len(),
        elapsed.as_secs_f64()
    );
    if !running.is_empty() {
        line.push_str(&format!(" · running: {}", running.join(", ")));
    }
    if waiting > 0 {
        line.push_str(&format!(" · {waiting} waiting"));
    }
    line
}

/// One line per node start and finish, found by comparing with what was printed before (a flat
/// array: this runs after every tick, so a node that did not change costs one comparison).
fn report_changes(m: &Manifest, seen: &mut Vec<Option<(Status, u32)>>) -> String {
    let mut text = String::new();
    seen.resize(m.nodes.len(), None);
    for (node, seen) in m.nodes.iter().zip(seen.iter_mut()) {
        let now = (node.status, node.attempts);
        let before = *seen;
        if before == Some(now) {
            continue;
        }
        *seen = Some(now);
        if let Some((Status::Running, old)) = before
            && node.attempts > old
        {
            text.push_str(&format!(
                "  ↺ {} (attempt {old}) ended and looped back\n",
                node.node_id
            ));
        }
        let attempt = if node.attempts > 1 {
            format!(" (attempt {})", node.attempts)
        } else {
            String::new()
        };
        // A job that started and ended within one tick was never seen running: its start is
        // told first, as for every other job that ran (a job that could not be started has no
        // start time).
        if node.status.is_terminal()
            && node.started_at.is_some()
            && before != Some((Status::Running, node.attempts))
        {
            text.push_str(&format!("  ▶ {}{attempt} started\n", node.node_id));
        }
        let line = match node.status {
            Status::Queued | Status::WaitingOnDeps => continue,
            Status::Running => format!("  ▶ {}{attempt} started", node.node_id),
            Status::WaitingOnApproval | Status::WaitingOnLocks => format!(
                "  … {} {}: {}",
                node.node_id,
                node.status,
                node.wait_reason
                    .as_ref()
                    .map_or(String::new(), |w| w.detail.clone())
            ),
            status => {
                let mark = match status {
                    Status::Succeeded => "✔",
                    Status::Skipped => "○",
                    _ => "✘",
                };
                let code = node
                    .exit_code
                    .filter(|c| *c != 0)
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default();
                let why = match (&node.reason, status) {
                    (Some(r), s) if s != Status::Succeeded => format!(": {r}"),
                    _ => String::new(),
                };
                format!("  {mark} {}{attempt} {status}{code}{why}", node.node_id)
            }
        };
        text.push_str(&format!("{line}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::fit;

    /// A `[cli.named]` flag that shadowed one of `vizier run`'s own would be unreachable: the
    /// validator's list must hold every long flag the command has.
    #[test]
    fn the_validators_run_flags_are_the_commands_flags() {
        use clap::CommandFactory;
        let command = crate::cli::args::Cli::command();
        let run = command.find_subcommand("run").unwrap();
        for arg in run.get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(
                    crate::template::inputs::RUN_FLAGS.contains(&long),
                    "`--{long}` is missing from RUN_FLAGS"
                );
            }
        }
    }

    #[test]
    fn fit_counts_terminal_columns() {
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdef", 4), "abc…");
        // Each of these takes two columns.
        assert_eq!(fit("日本語です", 6), "日本…");
        assert_eq!(fit("a · b", 3), "a …");
    }
}
