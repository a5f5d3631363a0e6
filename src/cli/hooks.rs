//! `vizier hooks install|uninstall|status` and `vizier hook <name>`: calls `hooks` and
//! renders what it did.

use std::io::{IsTerminal, Read};
use std::path::Path;

use super::Output;
use super::args::{DiagnosticFormat, HookArgs, HooksAction, HooksArgs};
use crate::error::{Error, Result};
use crate::exit;
use crate::hooks::husky::{self, Husky, HuskyChange};
use crate::hooks::{
    self, HookName, HookReport, HookState, HooksFolder, InstallOutcome, PreCommit, PushOutcome,
    UninstallOutcome,
};

pub fn run(args: HooksArgs, out: &mut Output) -> Result<u8> {
    let cwd = super::current_dir()?;
    let folder = hooks::locate(&cwd)?;
    if let Some(husky) = husky::detect(&folder) {
        return run_husky(args.action, &folder, &husky, out);
    }
    match args.action {
        HooksAction::Install { husky: true, .. } => Err(Error::Usage(format!(
            "--husky: this repository does not use husky (git runs hooks from {})",
            folder.path.display()
        ))),
        HooksAction::Install { hooks, force, .. } => {
            let binary = std::env::current_exe().map_err(|source| Error::Read {
                path: "the running vizier binary".into(),
                source,
            })?;
            let reports = hooks::install(&folder, &HookName::selection(&hooks), &binary, force)?;
            out.write(&folder_line(&folder));
            out.write(&format!("vizier binary: {}\n", binary.display()));
            for r in &reports {
                out.write(&install_line(r));
            }
            if folder.inside_work_tree() {
                out.write(
                    "note: this folder is inside the work tree; the scripts name a path on this \
                     machine, so keep them out of commits\n",
                );
            }
            Ok(exit::OK)
        }
        HooksAction::Uninstall { hooks } => {
            let reports = hooks::uninstall(&folder, &HookName::selection(&hooks))?;
            out.write(&folder_line(&folder));
            for r in &reports {
                out.write(&uninstall_line(r));
            }
            Ok(exit::OK)
        }
        HooksAction::Status { hooks } => {
            let reports = hooks::status(&folder, &HookName::selection(&hooks))?;
            out.write(&folder_line(&folder));
            for r in &reports {
                out.write(&status_lines(r, &folder));
            }
            Ok(exit::OK)
        }
    }
}

/// `vizier hooks …` in a husky repository: never a script in husky's folder (its stubs find the
/// user's scripts by their own names, so chaining one would silently stop every husky hook).
fn run_husky(
    action: HooksAction,
    folder: &HooksFolder,
    husky: &Husky,
    out: &mut Output,
) -> Result<u8> {
    let shown = |path: &Path| {
        path.strip_prefix(&folder.work_tree)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    match action {
        HooksAction::Install {
            hooks,
            husky: false,
            ..
        } => {
            let mut message = format!(
                "this repository uses husky: git runs hooks from husky's folder {}, whose scripts \
                 find yours by their own file names, so vizier installs nothing there (a chained \
                 hook would stop every husky hook)",
                folder.path.display()
            );
            for hook in HookName::selection(&hooks) {
                message.push_str(&format!(
                    "\nadd this line to {}:\n    {}",
                    shown(&husky::script_path(husky, hook)),
                    husky::command(hook)
                ));
            }
            message.push_str(
                "\nor run `vizier hooks install --husky` to append them, marked as vizier's \
                 (`vizier hooks uninstall` removes exactly them)",
            );
            Err(Error::Usage(message))
        }
        HooksAction::Install { hooks, .. } => {
            out.write(&folder_line(folder));
            for r in husky::install(husky, &HookName::selection(&hooks))? {
                let what = match r.change {
                    HuskyChange::Appended => "vizier's line appended",
                    HuskyChange::Created => "created, holding vizier's line",
                    _ => "vizier's line already there, unchanged",
                };
                out.write(&format!("{}: {} {what}\n", r.hook, shown(&r.path)));
            }
            out.write(
                "note: husky's scripts are shared through git; commit them so the check runs for \
                 everyone\n",
            );
            Ok(exit::OK)
        }
        HooksAction::Uninstall { hooks } => {
            let selected = HookName::selection(&hooks);
            out.write(&folder_line(folder));
            for r in husky::uninstall(husky, &selected)? {
                let what = match r.change {
                    HuskyChange::Removed { file_removed: true } => {
                        "vizier's line removed, and the script vizier created with it".to_owned()
                    }
                    HuskyChange::Removed { .. } => "vizier's line removed".to_owned(),
                    _ => "no line of vizier's there".to_owned(),
                };
                out.write(&format!("{}: {} {what}\n", r.hook, shown(&r.path)));
            }
            // Scripts an earlier install put into husky's folder go too, restoring husky's stubs.
            for r in hooks::uninstall(folder, &selected)? {
                if !matches!(
                    r.outcome,
                    UninstallOutcome::NotInstalled | UninstallOutcome::Foreign
                ) {
                    out.write(&uninstall_line(&r));
                }
            }
            Ok(exit::OK)
        }
        HooksAction::Status { hooks } => {
            let selected = HookName::selection(&hooks);
            out.write(&folder_line(folder));
            for (hook, path, on) in husky::status(husky, &selected)? {
                if on {
                    out.write(&format!(
                        "{hook}: installed in husky ({} runs vizier)\n",
                        shown(&path)
                    ));
                } else {
                    out.write(&format!(
                        "{hook}: not installed (husky repository; `vizier hooks install --husky` \
                         adds vizier's line to {})\n",
                        shown(&path)
                    ));
                }
            }
            for r in hooks::status(folder, &selected)? {
                if matches!(r.outcome, HookState::Installed { .. }) {
                    out.write(&format!(
                        "  warning: a vizier script in husky's folder replaces husky's {} stub, \
                         so husky's own {} script does not run; `vizier hooks uninstall` puts \
                         husky's stub back\n",
                        r.hook, r.hook
                    ));
                }
            }
            Ok(exit::OK)
        }
    }
}

/// `vizier hook <name>`: the check an installed script runs.
pub fn run_hook(args: HookArgs, out: &mut Output) -> Result<u8> {
    match args.name {
        HookName::PreCommit => match hooks::pre_commit()? {
            PreCommit::NothingStaged => Ok(exit::OK),
            PreCommit::Checked(report) => {
                if report.diagnostics.is_empty() {
                    out.write(&format!(
                        "vizier: {} staged under .vizier/ valid\n",
                        files(report.files.len())
                    ));
                    return Ok(exit::OK);
                }
                super::validate::render(&report, DiagnosticFormat::Human, out);
                if report.errors() == 0 {
                    return Ok(exit::OK);
                }
                out.write(
                    "vizier: commit refused: the staged templates above have errors\n\
                     help: fix them and `git add` the fix; what is staged is what is checked\n\
                     help: to commit once without the check, set VIZIER_SKIP_HOOKS=1\n",
                );
                Ok(exit::FAILED)
            }
        },
        HookName::PrePush => {
            // Run by the pre-commit framework, the pushed ref comes from its variables; otherwise
            // from git's stdin.
            let (refs, remote) = match hooks::framework_push()? {
                Some(refs) => (
                    refs,
                    std::env::var("PRE_COMMIT_REMOTE_NAME")
                        .unwrap_or_else(|_| "the remote".to_owned()),
                ),
                None => (
                    hooks::parse_push_input(&read_push_input()?)?,
                    args.args
                        .first()
                        .map_or("the remote", String::as_str)
                        .to_owned(),
                ),
            };
            let mut failed = false;
            for check in hooks::pre_push(refs)? {
                let PushOutcome::Checked(report) = check.outcome else {
                    continue;
                };
                if report.diagnostics.is_empty() {
                    continue;
                }
                out.write(&format!(
                    "vizier: checking `{}` at {}, pushed to `{}` on {remote}\n",
                    check.pushed.local_ref,
                    hooks::short(&check.pushed.local_sha),
                    check.pushed.remote_ref,
                ));
                super::validate::render(&report, DiagnosticFormat::Human, out);
                if report.errors() > 0 {
                    failed = true;
                    out.write(&format!(
                        "vizier: push refused: commit {} of `{}` has invalid templates\n",
                        hooks::short(&check.pushed.local_sha),
                        check.pushed.local_ref
                    ));
                }
            }
            if failed {
                out.write(
                    "help: fix the templates in a new commit (or amend), then push again\n\
                     help: to push once without the check, set VIZIER_SKIP_HOOKS=1\n",
                );
                return Ok(exit::FAILED);
            }
            Ok(exit::OK)
        }
    }
}

/// git's pre-push lines from stdin.
fn read_push_input() -> Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Usage(
            "`vizier hook pre-push` reads the refs being pushed from stdin, as git gives them to a \
             pre-push hook"
                .into(),
        ));
    }
    let mut input = String::new();
    stdin
        .read_to_string(&mut input)
        .map_err(|source| Error::Read {
            path: "stdin".into(),
            source,
        })?;
    Ok(input)
}

fn files(n: usize) -> String {
    format!("{n} file{}", if n == 1 { "" } else { "s" })
}

fn folder_line(folder: &HooksFolder) -> String {
    match &folder.hooks_path {
        Some(setting) => format!(
            "hooks folder: {} (core.hooksPath = `{}`, from {} config {})\n",
            folder.path.display(),
            setting.value,
            setting.scope,
            setting.origin
        ),
        None => format!("hooks folder: {}\n", folder.path.display()),
    }
}

fn name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn backups_note<T>(r: &HookReport<T>) -> String {
    if r.backups.is_empty() {
        return String::new();
    }
    let names: Vec<String> = r.backups.iter().map(|b| format!("`{}`", name(b))).collect();
    format!(
        "  note: earlier hooks replaced with --force are kept as {}\n",
        names.join(", ")
    )
}

fn install_line(r: &HookReport<InstallOutcome>) -> String {
    let what = match &r.outcome {
        InstallOutcome::Installed => "installed".to_owned(),
        InstallOutcome::Unchanged => "already installed, unchanged".to_owned(),
        InstallOutcome::Updated => "updated".to_owned(),
        InstallOutcome::Chained { chained } => format!(
            "installed; the hook that was there is kept as `{}` and runs first (its failure still \
             stops git)",
            name(chained)
        ),
        InstallOutcome::Replaced { backup } => format!(
            "installed over the hook that was there (--force); it is kept as `{}` and no longer runs",
            name(backup)
        ),
    };
    format!("{}: {what}\n{}", r.hook, backups_note(r))
}

fn uninstall_line(r: &HookReport<UninstallOutcome>) -> String {
    let what = match &r.outcome {
        UninstallOutcome::Removed => format!("removed {}", r.path.display()),
        UninstallOutcome::Restored { from } => format!(
            "removed; the hook that was there before is back (from `{}`)",
            name(from)
        ),
        UninstallOutcome::NotInstalled => "not installed".to_owned(),
        UninstallOutcome::Foreign => "not vizier's hook, left alone".to_owned(),
    };
    format!("{}: {what}\n{}", r.hook, backups_note(r))
}

fn status_lines(r: &HookReport<HookState>, folder: &HooksFolder) -> String {
    let mut text = match &r.outcome {
        HookState::NotInstalled => format!("{}: not installed\n", r.hook),
        HookState::Foreign => format!(
            "{}: not installed; a hook vizier did not write is there (`vizier hooks install` keeps \
             and chains it)\n",
            r.hook
        ),
        HookState::Shadowed { at } => format!(
            "{}: installed but shadowed: vizier's script at {} does not run, because core.hooksPath \
             makes git use {}\n  help: run `vizier hooks install` to install into that folder\n",
            r.hook,
            at.display(),
            folder.path.display()
        ),
        HookState::Installed {
            binary,
            binary_found,
            current,
            executable,
            chained,
        } => {
            let mut text = match chained {
                Some(chained) => format!(
                    "{}: installed, foreign hook chained (`{}` runs first)\n",
                    r.hook,
                    name(chained)
                ),
                None => format!("{}: installed\n", r.hook),
            };
            match binary {
                Some(b) if *binary_found => text.push_str(&format!("  vizier binary: {b}\n")),
                Some(b) => text.push_str(&format!(
                    "  warning: the recorded vizier binary {b} is missing; the hook falls back to \
                     PATH, then $VIZIER_BIN\n"
                )),
                None => {}
            }
            if !current {
                text.push_str(
                    "  note: the script differs from what this vizier writes; run `vizier hooks \
                     install` to update it\n",
                );
            }
            if !executable {
                text.push_str(
                    "  warning: the script is not executable, so git skips it; run `vizier hooks \
                     install`\n",
                );
            }
            text
        }
    };
    text.push_str(&backups_note(r));
    text
}
