//! The command line, as clap derive structs. No domain logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vizier",
    version,
    about = "Workflow templates as a checked, runnable part of a git repository",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold .vizier/ (config, draft/approve/merge/ci templates, ignore rules)
    Init(InitArgs),
    /// Check templates and config; report every problem with file, line, column and rule
    Validate(ValidateArgs),
    /// Print a JSON Schema of the template format
    Schema,
    /// Run a template to its end
    Run(RunArgs),
    /// Run the configured templates for a CI push event
    Ci(CiArgs),
    /// Install, remove or inspect vizier's git hooks
    Hooks(HooksArgs),
    /// Entry point called by installed hook scripts
    Hook(HookArgs),
    /// Inspect and steer scheduler jobs
    Jobs(JobsArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Runs one scheduler job (started by the scheduler, not by people)
    #[command(name = "__workflow-node", hide = true)]
    WorkflowNode(WorkflowNodeArgs),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    #[default]
    Human,
    Json,
    Github,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Template or config files (or folders of them); default: every .vizier/workflow/*.toml,
    /// .vizier/*.toml and .vizier/config.toml
    pub paths: Vec<PathBuf>,
    /// Read the files from the git index (what is being committed), not the work tree
    #[arg(long, conflicts_with = "rev")]
    pub staged: bool,
    /// Read the files from this commit's tree
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: DiagnosticFormat,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace existing files (each is backed up first)
    #[arg(long)]
    pub force: bool,
    /// Report what is missing without writing anything (exit 1 when something is)
    #[arg(long, conflicts_with = "force")]
    pub check: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A template alias (from [commands] or .vizier/workflow/<alias>.toml) or a path
    pub template: String,
    /// Override a param: --set name=value
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Return after writing the jobs; `vizier jobs` takes over
    #[arg(long)]
    pub detach: bool,
    /// Print the jobs that would be created, write nothing
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: RunFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum CiFormat {
    #[default]
    Github,
    Text,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    /// Templates to run (default: [ci] templates in config)
    #[arg(long = "template", value_name = "ALIAS")]
    pub templates: Vec<String>,
    /// The push event JSON (default: $GITHUB_EVENT_PATH)
    #[arg(long, value_name = "FILE")]
    pub event_path: Option<PathBuf>,
    /// Where manifests, job records and logs are copied
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub format: Option<CiFormat>,
}

pub use crate::hooks::HookName;

#[derive(Debug, Args)]
pub struct HooksArgs {
    #[command(subcommand)]
    pub action: HooksAction,
}

#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Install hook scripts into the hooks folder git uses
    Install {
        #[arg(long = "hook", value_enum)]
        hooks: Vec<HookName>,
        /// Replace a foreign hook (it is backed up)
        #[arg(long)]
        force: bool,
        /// In a husky repository, append vizier's line to husky's own scripts (`.husky/<hook>`)
        #[arg(long)]
        husky: bool,
    },
    /// Remove vizier's hooks and restore what was there before
    Uninstall {
        #[arg(long = "hook", value_enum)]
        hooks: Vec<HookName>,
    },
    /// Report each hook's state
    Status {
        #[arg(long = "hook", value_enum)]
        hooks: Vec<HookName>,
    },
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The git hook being run
    #[arg(value_enum)]
    pub name: HookName,
    /// The arguments git passed to the hook
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub action: JobsAction,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// List jobs
    List {
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Show one job
    Show {
        id: String,
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Show the schedule
    Schedule {
        #[arg(long, default_value = "summary")]
        format: String,
    },
    /// Print a job's logs
    Tail {
        id: String,
        #[arg(long)]
        follow: bool,
    },
    /// Rewind a job and everything downstream of it
    Retry { id: String },
    /// Stop a job
    Cancel { id: String },
    /// Approve a job waiting on approval
    Approve { id: String },
    /// Reject a job waiting on approval
    Reject {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove old finished runs
    Gc {
        #[arg(long)]
        keep: Option<usize>,
    },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct WorkflowNodeArgs {
    #[arg(long)]
    pub job_id: String,
}
