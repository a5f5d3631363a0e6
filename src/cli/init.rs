//! `vizier init` and `vizier init --check`: render what `crate::init` found or did.

use super::Output;
use super::args::InitArgs;
use crate::error::{Error, Result};
use crate::exit;
use crate::init::{self, Action, State};

pub fn run(args: InitArgs, out: &mut Output) -> Result<u8> {
    let cwd = std::env::current_dir().map_err(|source| Error::Read {
        path: ".".into(),
        source,
    })?;
    let repo = crate::git::open(&cwd)?;
    let root = repo
        .workdir()
        .ok_or_else(|| Error::Usage("a bare repository has no work tree to scaffold".into()))?
        .to_path_buf();
    if args.check {
        return check(&root, out);
    }
    let changes = init::init(&root, args.force)?;
    let mut text = String::new();
    let mut kept = 0;
    for change in &changes {
        let line = match &change.action {
            Action::Created => format!("created    {}", change.path),
            Action::Unchanged => format!("unchanged  {}", change.path),
            Action::Kept => {
                kept += 1;
                format!(
                    "kept       {} (yours differs from the scaffold; `vizier init --force` replaces it, keeping a backup)",
                    change.path
                )
            }
            Action::Replaced { backup } => {
                format!("replaced   {} (the old one is {backup})", change.path)
            }
            Action::Appended(rules) => {
                format!("updated    {} (added {})", change.path, rules.join(", "))
            }
        };
        text.push_str(&line);
        text.push('\n');
    }
    let wrote = changes
        .iter()
        .any(|c| !matches!(c.action, Action::Unchanged | Action::Kept));
    if wrote {
        if changes
            .iter()
            .any(|c| c.path == ".ci/run" && c.action == Action::Created)
        {
            text.push_str(
                "note: .ci/run is a placeholder that passes; write your build and tests into it \
                 (`vizier run ci` runs it)\n",
            );
        }
        text.push_str(
            "next: configure your agent under `[agent]` in .vizier/config.toml, commit .vizier/, \
             then `vizier run draft --set slug=<name> --set spec=\"...\"`\n",
        );
    } else if kept == 0 {
        text.push_str("already initialized; nothing to do\n");
    }
    out.write(&text);
    Ok(exit::OK)
}

/// Reports each item; exit 1 when something is missing, 0 when the scaffold is complete.
fn check(root: &std::path::Path, out: &mut Output) -> Result<u8> {
    let entries = init::inspect(root)?;
    let mut text = String::new();
    for e in &entries {
        let line = match &e.state {
            State::Missing => format!("missing    {}", e.path),
            State::Complete => format!("ok         {}", e.path),
            State::Customized => format!("ok         {} (customized)", e.path),
            State::MissingRules(rules) => {
                format!("missing    {} rules: {}", e.path, rules.join(", "))
            }
        };
        text.push_str(&line);
        text.push('\n');
    }
    let missing = entries.iter().filter(|e| e.state.is_missing()).count();
    if missing == 0 {
        text.push_str("complete\n");
    } else {
        text.push_str(&format!(
            "incomplete: {missing} missing; `vizier init` adds what is missing without touching the rest\n"
        ));
    }
    out.write(&text);
    Ok(if missing == 0 { exit::OK } else { exit::FAILED })
}
