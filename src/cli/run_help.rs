//! Rendering for `vizier run --help`, `vizier run <alias> --help` and `vizier list`.

use std::path::Path;

use super::Output;
use crate::compile::PlanLock;
use crate::error::Result;
use crate::exit;
use crate::launch::{self, Resolved};
use crate::template::inputs;

/// `vizier run --help` without an alias: clap's own help for the subcommand.
pub fn general(out: &mut Output) -> Result<u8> {
    use clap::CommandFactory;
    let mut command = super::args::Cli::command();
    if let Some(run) = command.find_subcommand_mut("run") {
        out.write(&format!("{}\n", run.render_long_help()));
    }
    Ok(exit::OK)
}

/// `vizier run <alias> --help`: the template's id, description, inputs and an example.
pub fn template(root: &Path, resolved: &Resolved, out: &mut Output) -> Result<u8> {
    let template = match launch::inspect(root, resolved)? {
        Ok(t) => t,
        Err(report) => {
            out.write_always(&crate::diagnostic::render_human(
                &report.diagnostics,
                &report.sources,
                out.color(),
            ));
            return Ok(exit::FAILED);
        }
    };
    let alias = resolved.alias.as_deref().unwrap_or(&resolved.path);
    let mut text = format!(
        "{alias}: {} {} ({})\n",
        template.id.as_ref().map_or("", |s| s.value.as_str()),
        template.version.as_ref().map_or("", |s| s.value.as_str()),
        resolved.path
    );
    if let Some(d) = &template.description {
        text.push_str(&format!("{}\n", d.value));
    }
    let info = inputs::describe(&template);
    let mut usage = format!("\nUsage: vizier run {alias}");
    if let Some(cli) = &template.cli {
        for p in &cli.positional {
            usage.push_str(&format!(" [{}]", p.value.to_uppercase()));
        }
    }
    usage.push_str(" [OPTIONS]\n");
    text.push_str(&usage);
    let positional: Vec<_> = {
        let mut p: Vec<_> = info.iter().filter(|i| i.position.is_some()).collect();
        p.sort_by_key(|i| i.position);
        p
    };
    if !positional.is_empty() {
        text.push_str("\nArguments:\n");
        for i in positional {
            text.push_str(&format!(
                "  {:<20} {}\n",
                format!("[{}]", i.param.to_uppercase()),
                describe_one(i)
            ));
        }
    }
    let named: Vec<_> = info.iter().filter(|i| !i.flags.is_empty()).collect();
    if !named.is_empty() {
        text.push_str("\nTemplate options:\n");
        for i in named {
            for flag in &i.flags {
                text.push_str(&format!(
                    "  {:<20} {}\n",
                    format!("--{flag} <{}>", i.param.to_uppercase()),
                    describe_one(i)
                ));
            }
        }
    }
    if !info.is_empty() {
        text.push_str("\nParams (--set NAME=VALUE):\n");
        for i in &info {
            text.push_str(&format!("  {:<20} {}\n", i.param, describe_one(i)));
        }
    }
    text.push_str(&format!(
        "\nExample:\n  {}\n\nvizier run's own options (--set, --after, --detach, --dry-run, --format, \
         --user-config, --quiet): `vizier run --help`\n",
        inputs::example(&template, alias)
    ));
    out.write(&text);
    Ok(exit::OK)
}

fn describe_one(i: &inputs::InputInfo) -> String {
    let mut parts = Vec::new();
    if let Some(d) = &i.description {
        parts.push(d.clone());
    }
    if i.required {
        parts.push("(required)".to_owned());
    }
    if !i.default.is_empty() {
        parts.push(format!("[default: {}]", i.default));
    }
    parts.join(" ")
}

/// `vizier list`: every alias with its description.
pub fn list(out: &mut Output) -> Result<u8> {
    let cwd = super::current_dir()?;
    let ws = super::vizier_workspace(&cwd)?;
    let (config, _) = launch::load_config(&ws.root)?;
    let aliases = launch::aliases(&ws, config.as_ref());
    if aliases.is_empty() {
        out.write("no runnable templates (add one under .vizier/workflow/)\n");
        return Ok(exit::OK);
    }
    let width = aliases
        .iter()
        .filter_map(|a| a.alias.as_ref().map(|s| s.len()))
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for a in &aliases {
        let alias = a.alias.as_deref().unwrap_or_default();
        let description = launch::description(&ws.root, &a.path).unwrap_or_default();
        text.push_str(
            format!("{alias:<width$}  {description}")
                .trim_end()
                .to_owned()
                .as_str(),
        );
        text.push('\n');
    }
    out.write(&text);
    Ok(exit::OK)
}

/// `  locks branch:main (run)` for a plan line; empty without locks.
pub fn locks_text(locks: &[PlanLock]) -> String {
    if locks.is_empty() {
        return String::new();
    }
    let list: Vec<String> = locks.iter().map(lock_text).collect();
    format!("  locks {}", list.join(", "))
}

/// One lock: `branch:main exclusive, run`.
pub fn lock_text(l: &PlanLock) -> String {
    match &l.scope {
        Some(scope) => format!("{} ({}, {scope})", l.key, l.mode),
        None => format!("{} ({})", l.key, l.mode),
    }
}
