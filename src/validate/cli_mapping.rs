//! `cli-mapping`: the `[cli]` table names declared params, each positional once, and no named
//! flag that `vizier run` itself takes or that cannot be typed as `--<flag>`.

use std::collections::HashSet;

use super::Ctx;
use crate::diagnostic::{Finding, Rule};
use crate::template::Template;
use crate::template::inputs::RUN_FLAGS;

pub fn check(ctx: &mut Ctx<'_>, template: &Template) {
    let Some(cli) = &template.cli else { return };
    let declared: Vec<&str> = template
        .params
        .iter()
        .map(|p| p.name.value.as_str())
        .collect();
    let help = || {
        if declared.is_empty() {
            "declare it under `[params]`".to_owned()
        } else {
            format!(
                "declare it under `[params]`; declared: {}",
                declared
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let mut seen = HashSet::new();
    for p in &cli.positional {
        if !declared.contains(&p.value.as_str()) {
            ctx.push(
                Finding::error(
                    Rule::CliMapping,
                    cli.file,
                    p.span.clone(),
                    format!("`cli.positional` names `{}`, which is not a param", p.value),
                )
                .help(help()),
            );
        } else if !seen.insert(p.value.as_str()) {
            ctx.push(
                Finding::error(
                    Rule::CliMapping,
                    cli.file,
                    p.span.clone(),
                    format!("`cli.positional` lists `{}` twice", p.value),
                )
                .help("list each param once"),
            );
        }
    }
    for (flag, param) in &cli.named {
        if !declared.contains(&param.value.as_str()) {
            ctx.push(
                Finding::error(
                    Rule::CliMapping,
                    cli.file,
                    param.span.clone(),
                    format!(
                        "`cli.named.{}` names `{}`, which is not a param",
                        flag.value, param.value
                    ),
                )
                .help(help()),
            );
        }
        let typable = flag
            .value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && flag
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if RUN_FLAGS.contains(&flag.value.as_str()) {
            ctx.push(
                Finding::error(
                    Rule::CliMapping,
                    cli.file,
                    flag.span.clone(),
                    format!(
                        "named flag `--{}` clashes with `vizier run --{}`",
                        flag.value, flag.value
                    ),
                )
                .help(format!(
                    "pick another name; `vizier run` itself takes {}",
                    RUN_FLAGS
                        .iter()
                        .map(|f| format!("`--{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        } else if !typable {
            ctx.push(
                Finding::error(
                    Rule::CliMapping,
                    cli.file,
                    flag.span.clone(),
                    format!(
                        "named flag `{}` cannot be typed as `--{}`",
                        flag.value, flag.value
                    ),
                )
                .help("use letters, digits, `-` and `_`, starting with a letter or digit"),
            );
        }
    }
}
