//! The command-line layer: parses arguments, calls the library, renders results, picks exit codes.
//! It is the only code that writes to the terminal.

pub mod args;
mod ci;
mod ci_fanout;
mod failure;
mod hooks;
mod init;
mod jobs;
mod man;
mod output;
mod progress;
mod run;
mod run_help;
mod validate;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::error::Error;
use crate::exit;
use args::{Cli, Command};
pub use output::Output;

/// Runs vizier with these arguments (the first is the program name) and returns the exit code.
pub fn run(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let mut out = Output::stdout();
    if let Some(command) = quick_command(&argv) {
        // A job process (started once per node) and a git hook (run on every commit or push):
        // clap's whole command tree is not built for them.
        out.set_color(args::ColorChoice::default());
        return match dispatch(command, &mut out) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                out.error(&e);
                ExitCode::from(e.exit_code())
            }
        };
    }
    out.set_json_errors(asks_for_json(&argv));
    // clap's own help and errors follow `--color` too.
    let color = match color_flag(&argv).as_deref() {
        Some("always") => clap::ColorChoice::Always,
        Some("never") => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    };
    let parsed = Cli::command()
        .color(color)
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
            let styled = e.render();
            let use_color = match color {
                clap::ColorChoice::Always => true,
                clap::ColorChoice::Never => false,
                _ if code == exit::OK => output::auto_color(&std::io::stdout()),
                _ => output::auto_color(&std::io::stderr()),
            };
            let rendered = if use_color {
                styled.ansi().to_string()
            } else {
                styled.to_string()
            };
            if code == exit::OK {
                out.write(&rendered);
            } else {
                out.usage_error(&rendered);
            }
            return ExitCode::from(code);
        }
    };
    out.set_color(cli.color);
    let result = dispatch(cli.command, &mut out);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            out.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

fn dispatch(command: Command, out: &mut Output) -> Result<u8, Error> {
    match command {
        Command::Validate(args) => validate::run(args, out),
        Command::Schema(args) => {
            out.write(&if args.manifest {
                crate::record_schema::render_manifest()
            } else if args.job_record {
                crate::record_schema::render_job_record()
            } else {
                crate::schema::render()
            });
            Ok(exit::OK)
        }
        Command::Man(args) => man::run(&public_command(), &args.out, out),
        Command::Completions(args) => {
            let mut buf = Vec::new();
            clap_complete::generate(args.shell, &mut public_command(), "vizier", &mut buf);
            out.write(&String::from_utf8_lossy(&buf));
            Ok(exit::OK)
        }
        Command::Init(args) => init::run(args, out),
        Command::Run(args) => run::run(args, out),
        Command::List => run_help::list(out),
        Command::Ci(args::CiArgs {
            fanout: Some(fanout),
            ..
        }) => ci_fanout::run(fanout, out),
        Command::Ci(args) => ci::run(args, out),
        Command::Hooks(args) => hooks::run(args, out),
        Command::Hook(args) => hooks::run_hook(args, out),
        Command::Jobs(args) => jobs::run(args, out),
        Command::WorkflowNode(args) => {
            let cwd = current_dir()?;
            crate::runner::run_node(&cwd, &args.job_id)?;
            Ok(exit::OK)
        }
    }
}

/// Two spellings recognised without clap; any other goes through clap as usual:
/// - the exact arguments a tick starts a job's process with (`__workflow-node --job-id <id>`,
///   `process::spawn_job`);
/// - `hook <name> [args]` as the installed hook script runs it, when no argument looks like an
///   option and all are UTF-8 (what clap would accept the same way).
fn quick_command(argv: &[OsString]) -> Option<Command> {
    match argv {
        [_, sub, flag, job_id] if sub == "__workflow-node" && flag == "--job-id" => {
            let job_id = job_id.to_str()?;
            (!job_id.starts_with('-')).then(|| {
                Command::WorkflowNode(args::WorkflowNodeArgs {
                    job_id: job_id.to_owned(),
                })
            })
        }
        [_, sub, name, rest @ ..] if sub == "hook" => {
            let name = args::HookName::ALL
                .into_iter()
                .find(|h| name == h.file_name())?;
            let args = rest
                .iter()
                .map(|a| {
                    a.to_str()
                        .filter(|a| !a.starts_with('-'))
                        .map(str::to_owned)
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Command::Hook(args::HookArgs { name, args }))
        }
        _ => None,
    }
}

/// The value of `--color` among the arguments, before they are parsed.
fn color_flag(argv: &[OsString]) -> Option<String> {
    let mut found = None;
    for (i, a) in argv.iter().enumerate() {
        let a = a.to_string_lossy();
        if let Some(v) = a.strip_prefix("--color=") {
            found = Some(v.to_owned());
        } else if a == "--color" {
            found = argv.get(i + 1).map(|v| v.to_string_lossy().into_owned());
        }
    }
    found
}

/// Whether the arguments ask for `--format json` (then errors are JSON documents on stdout too, even
/// those found while parsing the rest of the arguments).
fn asks_for_json(argv: &[OsString]) -> bool {
    argv.windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || argv.iter().any(|a| a == "--format=json")
}

/// The command tree without hidden subcommands: clap_complete would otherwise offer internal entry
/// points such as `__workflow-node` to people pressing tab.
fn public_command() -> clap::Command {
    let full = Cli::command();
    let mut public = clap::Command::new("vizier")
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true);
    if let Some(about) = full.get_about() {
        public = public.about(about.clone());
    }
    for arg in full.get_arguments() {
        public = public.arg(arg.clone());
    }
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        public = public.subcommand(sub.clone());
    }
    public
}

/// The current folder, or an operational error naming it.
fn current_dir() -> Result<std::path::PathBuf, Error> {
    std::env::current_dir().map_err(|source| Error::Read {
        path: ".".into(),
        source,
    })
}

/// The workspace around `cwd`, which must hold `.vizier/` (else a usage error, exit 2).
fn vizier_workspace(cwd: &std::path::Path) -> Result<crate::workspace::Workspace, Error> {
    crate::workspace::Workspace::locate(cwd)
        .filter(crate::workspace::Workspace::has_vizier)
        .ok_or_else(|| Error::NoVizier {
            root: cwd.to_path_buf(),
        })
}
