//! `vizier validate`.

use super::Output;
use super::args::{DiagnosticFormat, ValidateArgs};
use crate::diagnostic::{render_github, render_human, render_json};
use crate::error::{Error, Result};
use crate::exit;
use crate::validate::{Report, validate};
use crate::workspace::{
    GivenFiles, Index, Reader, Revision, VIZIER_DIR, WORKFLOW_DIR, WorkTree, Workspace,
    default_paths,
};
use std::path::{Path, PathBuf};

pub fn run(args: ValidateArgs, out: &mut Output) -> Result<u8> {
    out.set_json_errors(args.format == DiagnosticFormat::Json);
    out.set_quiet(args.quiet);
    let cwd = super::current_dir()?;
    let workspace = Workspace::locate(&cwd);
    let root = workspace
        .as_ref()
        .map_or_else(|| cwd.clone(), |w| w.root.clone());
    let work_tree = !args.staged && args.rev.is_none();
    let local: Box<dyn Reader> = if args.staged {
        Box::new(Index {
            repo: crate::git::open(&root)?,
        })
    } else if let Some(rev) = &args.rev {
        Box::new(Revision::new(crate::git::open(&root)?, rev)?)
    } else {
        Box::new(WorkTree { root: root.clone() })
    };
    let mut reader = GivenFiles::new(local);

    let paths = if args.paths.is_empty() {
        let paths = default_paths(&reader)?;
        if paths.is_empty() {
            if !root.join(VIZIER_DIR).is_dir() {
                return Err(Error::NoVizier { root });
            }
            return Err(Error::Usage(format!(
                "no templates in `{WORKFLOW_DIR}/` or `{VIZIER_DIR}/` (read from {})",
                reader.describe()
            )));
        }
        paths
    } else {
        let ws = workspace.unwrap_or(Workspace { root: root.clone() });
        let real_root = root.canonicalize().unwrap_or_else(|_| root.clone());
        let mut paths = Vec::new();
        for given in &args.paths {
            let rel = if work_tree {
                match given_in_work_tree(&ws, &real_root, &cwd, given)? {
                    Given::Inside(rel) => rel,
                    // A linter checks any file it is given; only what a template names is confined.
                    Given::Outside(real) => reader.add_outside(&real)?,
                }
            } else {
                // The index and a commit hold only the repository's own files.
                ws.relative(&cwd, given)?
            };
            // A folder stands for the templates directly inside it, in whichever tree is read.
            let folder = if work_tree {
                if rel.starts_with('/') {
                    Path::new(&rel).is_dir()
                } else {
                    root.join(&rel).is_dir()
                }
            } else {
                reader.read(&rel)?.is_none() && !reader.toml_names(&rel)?.is_empty()
            };
            if folder {
                let names = reader.toml_names(&rel)?;
                paths.extend(names.into_iter().map(|n| join(&rel, &n)));
            } else {
                paths.push(rel);
            }
        }
        paths
    };

    let report = validate(&reader, &paths)?;
    render(&report, args.format, out);
    Ok(if report.errors() > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

enum Given {
    /// A repository-relative path.
    Inside(String),
    /// A file or folder elsewhere, by its real (absolute, symlink-free) path.
    Outside(PathBuf),
}

/// Where a path given on the command line is: inside the repository (as written, relative to the
/// root), or, when it exists and really lives elsewhere, outside.
fn given_in_work_tree(ws: &Workspace, real_root: &Path, cwd: &Path, given: &Path) -> Result<Given> {
    let lexical = ws.relative(cwd, given);
    let Ok(real) = cwd.join(given).canonicalize() else {
        // Missing: reading it reports that, named as given (or it is outside and a usage error).
        return lexical.map(Given::Inside);
    };
    match (lexical, real.strip_prefix(real_root)) {
        (Ok(rel), Ok(_)) => Ok(Given::Inside(rel)),
        (Err(_), Ok(rel)) => Ok(Given::Inside(
            rel.to_str()
                .ok_or_else(|| Error::NotUtf8 {
                    path: real.display().to_string(),
                })?
                .to_owned(),
        )),
        (_, Err(_)) => Ok(Given::Outside(real)),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

pub(super) fn render(report: &Report, format: DiagnosticFormat, out: &mut Output) {
    // `-q`: errors only (a JSON document stays whole: its shape does not change).
    let errors_only: Vec<_>;
    let diagnostics = if out.quiet() && format != DiagnosticFormat::Json {
        errors_only = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::diagnostic::Severity::Error)
            .cloned()
            .collect();
        &errors_only
    } else {
        &report.diagnostics
    };
    match format {
        DiagnosticFormat::Json => {
            out.write_always(&render_json(&report.files, &report.diagnostics))
        }
        DiagnosticFormat::Github => out.write_always(&render_github(diagnostics)),
        DiagnosticFormat::Human => {
            let color = out.color();
            out.write_always(&render_human(diagnostics, &report.sources, color));
            out.write(&summary(report));
        }
    }
}

fn summary(report: &Report) -> String {
    let files = report.files.len();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if report.errors() == 0 && report.warnings() == 0 {
        format!("ok: {} valid\n", plural(files, "file"))
    } else {
        format!(
            "{}: {}, {} in {}\n",
            if report.errors() > 0 { "failed" } else { "ok" },
            plural(report.errors(), "error"),
            plural(report.warnings(), "warning"),
            plural(files, "file")
        )
    }
}
