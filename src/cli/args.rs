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
    /// When to colour output: auto follows NO_COLOR, CLICOLOR, CLICOLOR_FORCE and TERM
    #[arg(long, value_enum, default_value_t, global = true, value_name = "WHEN")]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

pub use super::output::ColorChoice;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold .vizier/ (config, draft/approve/merge/ci templates, ignore rules)
    Init(InitArgs),
    /// Check templates and config; report every problem with file, line, column and rule
    Validate(ValidateArgs),
    /// Print a JSON Schema: of the template format (default), a run manifest or a job record
    Schema(SchemaArgs),
    /// Run a template to its end (`vizier run <alias> --help` shows the template's inputs)
    Run(RunArgs),
    /// List the runnable template aliases with their descriptions
    List,
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
    /// Write man pages: vizier.1 and one page per subcommand
    Man(ManArgs),
    /// Runs one scheduler job (started by the scheduler, not by people)
    #[command(name = "__workflow-node", hide = true)]
    WorkflowNode(WorkflowNodeArgs),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// Annotated source snippets and a summary line
    #[default]
    Human,
    /// One JSON document (`"version": 1`)
    Json,
    /// GitHub Actions `::error` / `::warning` workflow commands
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
    /// How to print the findings
    #[arg(long, value_enum, default_value_t)]
    pub format: DiagnosticFormat,
    /// Print errors only: no warnings, no summary
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The schema of a run manifest (`.vizier/jobs/runs/<run_id>.json`, `run --format json`)
    #[arg(long, conflicts_with = "job_record")]
    pub manifest: bool,
    /// The schema of a job record (`.vizier/jobs/<job_id>/job.json`)
    #[arg(long)]
    pub job_record: bool,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The folder to write the pages into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
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
    /// A line per node start and end, then a summary
    #[default]
    Text,
    /// The run manifest at the end (with --dry-run: the planned jobs; with --detach: the run id)
    Json,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// A template alias (from [commands] or .vizier/workflow/<alias>.toml) or a path
    #[arg(required_unless_present = "help")]
    pub template: Option<String>,
    /// The template's own inputs: its `[cli]` positionals and `--<named> value` flags
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "INPUT"
    )]
    pub inputs: Vec<String>,
    /// Override a param: --set name=value
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Start the entry nodes only after this run has succeeded (repeatable)
    #[arg(long = "after", value_name = "RUN_ID")]
    pub after: Vec<String>,
    /// Print help; after an alias, the template's inputs and an example
    #[arg(short = 'h', long)]
    pub help: bool,
    /// Return after writing the jobs; `vizier jobs` takes over
    #[arg(long)]
    pub detach: bool,
    /// Print the jobs that would be created, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How to report the run
    #[arg(long, value_enum, default_value_t)]
    pub format: RunFormat,
    /// Read the user-level agent config ($XDG_CONFIG_HOME/vizier/config.toml) even under CI=true
    #[arg(long)]
    pub user_config: bool,
    /// Print errors and the failing nodes only
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum CiFormat {
    /// Plain lines plus GitHub annotations, log groups, outputs and the step summary
    #[default]
    Github,
    /// Plain lines only
    Text,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CiArgs {
    /// Spread the run over many runners (default: run everything here)
    #[command(subcommand)]
    pub fanout: Option<CiFanout>,
    /// Templates to run (default: [ci] templates in config)
    #[arg(long = "template", value_name = "ALIAS")]
    pub templates: Vec<String>,
    /// The push event JSON (default: $GITHUB_EVENT_PATH)
    #[arg(long, value_name = "FILE")]
    pub event_path: Option<PathBuf>,
    /// Where manifests, job records and logs are copied
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// How to report [default: github under GITHUB_ACTIONS, else text]
    #[arg(long, value_enum)]
    pub format: Option<CiFormat>,
    /// Read the user-level agent config ($XDG_CONFIG_HOME/vizier/config.toml) even under CI=true
    #[arg(long)]
    pub user_config: bool,
    /// Print errors and the failing nodes only
    #[arg(short, long)]
    pub quiet: bool,
}

/// `vizier ci plan|node|collect`: one push's runs over many runners.
#[derive(Debug, Subcommand)]
pub enum CiFanout {
    /// Split the push's runs into groups arranged in levels, one runner per group
    Plan(CiPlanArgs),
    /// Run one planned group here, after importing the records of earlier groups
    Node(CiNodeArgs),
    /// Merge every group's records into the final manifests, summary and outputs
    Collect(CiCollectArgs),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum CiPlanFormat {
    #[default]
    Json,
    Github,
}

#[derive(Debug, Args)]
pub struct CiPlanArgs {
    /// Templates to run (default: [ci] templates in config)
    #[arg(long = "template", value_name = "ALIAS")]
    pub templates: Vec<String>,
    /// The push event JSON (default: $GITHUB_EVENT_PATH)
    #[arg(long, value_name = "FILE")]
    pub event_path: Option<PathBuf>,
    /// Levels of runner jobs; groups at level K-1 and deeper merge into one group
    #[arg(long, value_name = "K", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_levels: u16,
    /// Where the plan (fanout/plan.json) is written for the later jobs
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// json: print the plan; github: write `levels` and `level-<k>` matrices to GITHUB_OUTPUT
    /// (default: github inside GitHub Actions, else json)
    #[arg(long, value_enum)]
    pub format: Option<CiPlanFormat>,
}

#[derive(Debug, Args)]
pub struct CiNodeArgs {
    /// The group to run, as the plan names it (<run_id>.g<k>)
    #[arg(long, value_name = "ID")]
    pub group: String,
    /// A folder of earlier jobs' artifacts (the plan's and the upstream groups'); repeatable
    #[arg(long = "store-in", value_name = "DIR")]
    pub store_in: Vec<PathBuf>,
    /// The push event JSON (default: $GITHUB_EVENT_PATH)
    #[arg(long, value_name = "FILE")]
    pub event_path: Option<PathBuf>,
    /// Where this group's records, logs and report are written for upload
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// How to report [default: github under GITHUB_ACTIONS, else text]
    #[arg(long, value_enum)]
    pub format: Option<CiFormat>,
}

#[derive(Debug, Args)]
pub struct CiCollectArgs {
    /// A folder of the plan's and the groups' artifacts; repeatable
    #[arg(long = "store-in", value_name = "DIR")]
    pub store_in: Vec<PathBuf>,
    /// The push event JSON (default: $GITHUB_EVENT_PATH)
    #[arg(long, value_name = "FILE")]
    pub event_path: Option<PathBuf>,
    /// Where the final manifests, job records, summary and annotations are written
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// How to report [default: github under GITHUB_ACTIONS, else text]
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
        /// Only this hook (repeatable; default: pre-commit and pre-push)
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
        /// Only this hook (repeatable; default: pre-commit and pre-push)
        #[arg(long = "hook", value_enum)]
        hooks: Vec<HookName>,
    },
    /// Report each hook's state
    Status {
        /// Only this hook (repeatable; default: pre-commit and pre-push)
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns
    #[default]
    Table,
    /// `{"version": 1, "jobs": [...]}`
    Json,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// `label: value` lines
    #[default]
    Text,
    /// `{"version": 1, "job": {...}}`
    Json,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ScheduleFormat {
    /// One line per run, plus its unfinished nodes
    #[default]
    Summary,
    /// Each run's nodes with their dependencies
    Dag,
    /// `{"version": 1, "runs": [...]}`
    Json,
    /// A mermaid flowchart per run
    Mermaid,
}

/// The values `--status` accepts: every job status, and `unknown` for records without one.
fn status_values() -> clap::builder::PossibleValuesParser {
    let mut names: Vec<&'static str> = crate::store::Status::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    names.push("unknown");
    clap::builder::PossibleValuesParser::new(names)
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// List jobs
    List {
        /// Only the jobs of this run
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        /// Only jobs with this status
        #[arg(long, value_parser = status_values())]
        status: Option<String>,
        /// How to print the list
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
    },
    /// Show one job
    Show {
        /// The job id (`<run_id>-<node_id>`)
        id: String,
        /// How to print the job
        #[arg(long, value_enum, default_value_t)]
        format: ShowFormat,
    },
    /// Show the schedule
    Schedule {
        /// Only this run (so `--format mermaid` prints one diagram)
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        /// How to print the schedule
        #[arg(long, value_enum, default_value_t)]
        format: ScheduleFormat,
    },
    /// Print a job's logs (stdout, then stderr)
    Tail {
        /// The job id
        id: String,
        /// Keep printing until the job ends
        #[arg(long)]
        follow: bool,
    },
    /// Rewind a job and everything downstream of it; given a run id, every job of the run that
    /// failed, was blocked or was cancelled
    Retry {
        /// The job id, or a run id
        id: String,
    },
    /// Stop a job
    Cancel {
        /// The job id
        id: String,
    },
    /// Approve a job waiting on approval
    Approve {
        /// The job id
        id: String,
    },
    /// Reject a job waiting on approval
    Reject {
        /// The job id
        id: String,
        /// Why (recorded with the rejection)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove old finished runs: their records, logs and artifacts
    Gc {
        /// How many of the newest finished runs to keep
        #[arg(long, default_value_t = 20)]
        keep: usize,
    },
    /// Remove one finished run: its worktrees, markers and records (branches are kept)
    Clean {
        /// The run id
        run_id: String,
        /// Also delete the branches the run created, when they hold nothing unmerged
        #[arg(long)]
        delete_branches: bool,
    },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print completions for
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct WorkflowNodeArgs {
    /// The job to run
    #[arg(long)]
    pub job_id: String,
}
