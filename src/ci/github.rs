//! GitHub Actions' side channels, within its limits: step outputs (`GITHUB_OUTPUT`), the step summary
//! (`GITHUB_STEP_SUMMARY`), annotations and log groups.
//!
//! Everything here returns text or appends to the runner's files; it never writes to stdout (that is
//! `cli/`). Escaping of annotation fields is `crate::diagnostic`'s, shared with `vizier validate
//! --format github`. Limits handled: at most [`MAX_ERROR_ANNOTATIONS`] errors and
//! [`MAX_WARNING_ANNOTATIONS`] warnings per step (the rest are returned for the summary), a summary
//! under [`SUMMARY_LIMIT`] bytes, multi-line outputs behind a random delimiter that is checked not to
//! occur in the value, and logs whose own `::` lines cannot act as workflow commands.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::CiError;
use crate::diagnostic::{Diagnostic, Severity, escape_data, escape_property, github_annotation};
use crate::error::{Error, Result};
use crate::store::Status;

/// GitHub shows at most this many `::error` annotations per step.
pub const MAX_ERROR_ANNOTATIONS: usize = 10;
/// And at most this many `::warning` annotations per step.
pub const MAX_WARNING_ANNOTATIONS: usize = 10;
/// A step summary larger than this (1 MiB) is rejected by the runner, so vizier stays under it.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// The runner's files, as its variables name them. Empty variables count as unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runner {
    /// `GITHUB_ACTIONS=true`: inside GitHub Actions (annotations and groups are understood).
    pub actions: bool,
    /// `GITHUB_OUTPUT`: the file step outputs are appended to.
    pub output: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`: the file the Markdown summary is appended to.
    pub step_summary: Option<PathBuf>,
}

impl Runner {
    pub fn from_env() -> Runner {
        Runner::from_vars(|name| std::env::var(name).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Runner {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        Runner {
            actions: var("GITHUB_ACTIONS").as_deref() == Some("true"),
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }
}

/// A fresh delimiter or stop token: a fixed prefix and 128 random bits in hex.
pub fn random_token(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CiError::Random {
        message: e.to_string(),
    })?;
    let mut token = String::from(prefix);
    for b in bytes {
        token.push_str(&format!("{b:02x}"));
    }
    Ok(token)
}

/// Draws tokens from `next` until one occurs nowhere in `texts`. A collision with 128 random bits is
/// practically impossible, so a few draws that all collide mean the source is not random.
fn fresh_token(
    texts: &[&str],
    next: &mut dyn FnMut() -> Result<String>,
    what: &str,
) -> Result<String> {
    for _ in 0..8 {
        let token = next()?;
        if !token.is_empty() && !texts.iter().any(|t| t.contains(&token)) {
            return Ok(token);
        }
    }
    Err(CiError::Output {
        name: what.to_owned(),
        message: "every delimiter drawn occurs in the value".into(),
    }
    .into())
}

/// Step outputs for `GITHUB_OUTPUT`, in the order they were set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    entries: Vec<(String, String)>,
}

impl Outputs {
    pub fn new() -> Outputs {
        Outputs::default()
    }

    /// Sets `name` (letters, digits, `-`, `_`; not starting with a digit or `-`) to `value`, which may
    /// hold any text, newlines included. Setting a name again replaces its value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> Result<()> {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(CiError::Output {
                name: name.to_owned(),
                message:
                    "an output name is letters, digits, `-` and `_`, starting with a letter or `_`"
                        .into(),
            }
            .into());
        }
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name.to_owned(), value)),
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `GITHUB_OUTPUT` text: every entry as `name<<DELIM`, the value, `DELIM`, with a fresh random
    /// delimiter per entry that occurs nowhere in the value.
    pub fn render(&self) -> Result<String> {
        self.render_with(&mut || random_token("ghadelimiter_"))
    }

    /// [`Outputs::render`] with delimiters drawn from `next`.
    pub fn render_with(&self, next: &mut dyn FnMut() -> Result<String>) -> Result<String> {
        let mut out = String::new();
        for (name, value) in &self.entries {
            let delimiter = fresh_token(&[name, value], next, name)?;
            out.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        }
        Ok(out)
    }

    /// Appends the rendered outputs to the `GITHUB_OUTPUT` file.
    pub fn append_to(&self, path: &Path) -> Result<()> {
        append(path, &self.render()?)
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    let write_error = |e| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(write_error)?;
    file.write_all(text.as_bytes()).map_err(write_error)?;
    file.flush().map_err(write_error)
}

/// Appends `markdown` to the step summary file, cut (see [`truncate_summary`]) so the file stays under
/// [`SUMMARY_LIMIT`] with whatever earlier writers of this step put there.
pub fn append_summary(path: &Path, markdown: &str) -> Result<()> {
    let existing = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
    let room = SUMMARY_LIMIT.saturating_sub(existing);
    append(path, &truncate_summary(markdown, room))
}

/// `markdown` if it fits in `limit` bytes; else its longest prefix of whole lines that fits with the
/// closers it needs (an open code fence, open `<details>`) and a note saying it was cut.
pub fn truncate_summary(markdown: &str, limit: usize) -> String {
    if markdown.len() <= limit {
        return markdown.to_owned();
    }
    const NOTE: &str = "\n> **Summary truncated** to stay under GitHub's 1 MiB step-summary limit: \
                        the full record (manifests, job records, logs) is in the uploaded artifacts.\n";
    let mut kept = String::new();
    let mut in_fence = false;
    let mut open_details = 0usize;
    for line in markdown.split_inclusive('\n') {
        let (fence_after, details_after) = line_state(line, in_fence, open_details);
        let closers = closers(fence_after, details_after);
        if kept.len() + line.len() + closers.len() + NOTE.len() > limit {
            break;
        }
        kept.push_str(line);
        in_fence = fence_after;
        open_details = details_after;
    }
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    let tail = format!("{}{NOTE}", closers(in_fence, open_details));
    if kept.len() + tail.len() > limit {
        // Not even the note fits: say nothing rather than break the limit.
        return String::new();
    }
    kept + &tail
}

fn line_state(line: &str, in_fence: bool, open_details: usize) -> (bool, usize) {
    let trimmed = line.trim();
    if trimmed.starts_with("```") {
        return (!in_fence, open_details);
    }
    if in_fence {
        return (true, open_details);
    }
    let opened = trimmed.matches("<details").count();
    let closed = trimmed.matches("</details>").count();
    (false, (open_details + opened).saturating_sub(closed))
}

fn closers(in_fence: bool, open_details: usize) -> String {
    let mut s = String::new();
    if in_fence {
        s.push_str("```\n");
    }
    for _ in 0..open_details {
        s.push_str("</details>\n");
    }
    s
}

/// How loud an annotation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// Where an annotation points.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// One annotation: the workflow command, and a plain line for the summary when it is not shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    /// Lower is more important; ties keep the order they were added in.
    pub rank: u32,
    /// The `::error …::…` line, escaped.
    pub command: String,
    /// The same as plain text, e.g. `path:3:5: message`.
    pub text: String,
}

/// Ranks of the annotations vizier makes, most important first.
pub mod rank {
    /// A template finding that stops the run.
    pub const TEMPLATE: u32 = 0;
    /// A node that ran and failed (exit code, timeout).
    pub const NODE_FAILED: u32 = 10;
    /// A node that ended blocked (a gate said no, a retry budget ran out).
    pub const NODE_BLOCKED: u32 = 20;
    /// A node that never ran because something before it failed: a consequence, not a cause.
    pub const NODE_BLOCKED_BY_DEPENDENCY: u32 = 30;
}

impl Annotation {
    /// An annotation with an optional location and title; every field is escaped.
    pub fn new(
        level: Level,
        rank: u32,
        title: Option<&str>,
        location: Option<&Location>,
        message: &str,
    ) -> Annotation {
        let mut props = Vec::new();
        let mut text = String::new();
        if let Some(loc) = location {
            props.push(format!("file={}", escape_property(&loc.file)));
            text.push_str(&loc.file);
            if let Some(line) = loc.line {
                props.push(format!("line={line}"));
                text.push_str(&format!(":{line}"));
                if let Some(col) = loc.column {
                    props.push(format!("col={col}"));
                    text.push_str(&format!(":{col}"));
                }
            }
            text.push_str(": ");
        }
        if let Some(title) = title {
            props.push(format!("title={}", escape_property(title)));
        }
        text.push_str(message);
        let props = if props.is_empty() {
            String::new()
        } else {
            format!(" {}", props.join(","))
        };
        Annotation {
            level,
            rank,
            command: format!("::{}{props}::{}", level.as_str(), escape_data(message)),
            text,
        }
    }

    /// A template finding, rendered exactly as `vizier validate --format github` renders it.
    pub fn from_diagnostic(d: &Diagnostic) -> Annotation {
        Annotation {
            level: match d.severity {
                Severity::Error => Level::Error,
                Severity::Warning => Level::Warning,
            },
            rank: rank::TEMPLATE,
            command: github_annotation(d),
            text: format!(
                "{}:{}:{}: {}[{}]: {}",
                d.path,
                d.line,
                d.column,
                d.severity.as_str(),
                d.rule.id(),
                d.message
            ),
        }
    }

    /// A node that did not succeed, named with its run, its final status and its exit code.
    pub fn node_outcome(
        run_id: &str,
        node_id: &str,
        status: Status,
        exit_code: Option<i64>,
        location: Option<&Location>,
    ) -> Annotation {
        let rank = match status {
            Status::Failed => rank::NODE_FAILED,
            Status::BlockedByDependency => rank::NODE_BLOCKED_BY_DEPENDENCY,
            _ => rank::NODE_BLOCKED,
        };
        let message = match exit_code {
            Some(code) => {
                format!("node `{node_id}` {status} with exit code {code} (run `{run_id}`)")
            }
            None => format!("node `{node_id}` {status} (run `{run_id}`)"),
        };
        Annotation::new(
            Level::Error,
            rank,
            Some(&format!("vizier: {node_id}")),
            location,
            &message,
        )
    }
}

/// Annotations split into what GitHub will show and what goes to the summary instead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limited {
    /// At most [`MAX_ERROR_ANNOTATIONS`] errors and [`MAX_WARNING_ANNOTATIONS`] warnings, most
    /// important first.
    pub shown: Vec<Annotation>,
    /// The rest, in the same order: list them in the summary and the artifacts.
    pub overflow: Vec<Annotation>,
}

impl Limited {
    /// The workflow commands to print, one per line.
    pub fn commands(&self) -> String {
        let mut out = String::new();
        for a in &self.shown {
            out.push_str(&a.command);
            out.push('\n');
        }
        out
    }
}

/// Ranks `annotations` (level, then rank, then the order given) and keeps what GitHub will show.
pub fn limit(mut annotations: Vec<Annotation>) -> Limited {
    annotations.sort_by_key(|a| (a.level, a.rank));
    let mut out = Limited::default();
    let (mut errors, mut warnings) = (0, 0);
    for a in annotations {
        let room = match a.level {
            Level::Error => {
                errors += 1;
                errors <= MAX_ERROR_ANNOTATIONS
            }
            Level::Warning => {
                warnings += 1;
                warnings <= MAX_WARNING_ANNOTATIONS
            }
            Level::Notice => true,
        };
        if room {
            out.shown.push(a);
        } else {
            out.overflow.push(a);
        }
    }
    out
}

/// `::group::<title>`, newline included.
pub fn group(title: &str) -> String {
    format!("::group::{}\n", escape_data(title))
}

/// `::endgroup::`, newline included.
pub fn endgroup() -> &'static str {
    "::endgroup::\n"
}

/// A node's log in a collapsible group. The log is child output, so workflow commands in it (an
/// `::endgroup::`, an `::error`, `::add-mask`) are switched off with `::stop-commands::` and a random
/// token that occurs nowhere in the log, then switched back on.
pub fn grouped_log(title: &str, log: &str) -> Result<String> {
    grouped_log_with(title, log, &mut || random_token("vizier-log-"))
}

/// Child output shown outside a group (the tail of a failed node's log): workflow commands in it are
/// switched off with `::stop-commands::` and a fresh random token, then back on.
pub fn fenced(text: &str) -> Result<String> {
    let token = fresh_token(
        &[text],
        &mut || random_token("vizier-log-"),
        "stop-commands",
    )?;
    let mut out = format!("::stop-commands::{token}\n{text}");
    if !text.is_empty() && !text.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("::{token}::\n"));
    Ok(out)
}

/// [`grouped_log`] with the stop token drawn from `next`.
pub fn grouped_log_with(
    title: &str,
    log: &str,
    next: &mut dyn FnMut() -> Result<String>,
) -> Result<String> {
    let token = fresh_token(&[log], next, "stop-commands")?;
    let mut out = group(title);
    out.push_str(&format!("::stop-commands::{token}\n"));
    out.push_str(log);
    if !log.is_empty() && !log.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("::{token}::\n"));
    out.push_str(endgroup());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "100% a,b:c\r\nline2\n::endgroup::\n::error::pwned\n%0A";

    fn scripted(tokens: &[&str]) -> impl FnMut() -> Result<String> {
        let mut tokens: Vec<String> = tokens.iter().rev().map(|s| s.to_string()).collect();
        move || Ok(tokens.pop().expect("enough tokens"))
    }

    /// Reads a `GITHUB_OUTPUT` file the way the runner does: `name<<DELIM` … `DELIM` blocks.
    fn parse_output(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut lines = text.split('\n');
        while let Some(line) = lines.next() {
            if line.is_empty() {
                continue;
            }
            let (name, delim) = line.split_once("<<").expect("heredoc form");
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_owned(), value.join("\n")));
        }
        out
    }

    #[test]
    fn outputs_round_trip_hostile_multiline_values() {
        let mut outputs = Outputs::new();
        outputs.set("run-ids", "run-a\nrun-b").unwrap();
        outputs.set("outcome", HOSTILE).unwrap();
        outputs.set("manifest", "").unwrap();
        outputs.set("outcome", "failed\nEOF\n").unwrap();
        let text = outputs.render().unwrap();
        assert_eq!(
            parse_output(&text),
            [
                ("run-ids".to_owned(), "run-a\nrun-b".to_owned()),
                ("outcome".to_owned(), "failed\nEOF\n".to_owned()),
                ("manifest".to_owned(), String::new()),
            ]
        );
        assert_eq!(outputs.get("outcome"), Some("failed\nEOF\n"));
    }

    #[test]
    fn a_delimiter_found_in_the_value_is_drawn_again() {
        let mut outputs = Outputs::new();
        outputs.set("x", "a\nDELIM\nb").unwrap();
        let text = outputs
            .render_with(&mut scripted(&["DELIM", "ELI", "SAFE"]))
            .unwrap();
        assert_eq!(text, "x<<SAFE\na\nDELIM\nb\nSAFE\n");
        let err = outputs
            .render_with(&mut || Ok("DELIM".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("every delimiter drawn"), "{err}");
    }

    #[test]
    fn random_delimiters_differ() {
        let a = random_token("ghadelimiter_").unwrap();
        let b = random_token("ghadelimiter_").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), "ghadelimiter_".len() + 32);
    }

    #[test]
    fn output_names_are_checked() {
        let mut outputs = Outputs::new();
        for bad in ["", "a=b", "a<<b", "a\nb", "1x", "-x", "a b"] {
            assert!(outputs.set(bad, "v").is_err(), "{bad:?}");
        }
        outputs.set("_ok-name_2", "v").unwrap();
    }

    #[test]
    fn outputs_append_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output");
        std::fs::write(&path, "earlier=1\n").unwrap();
        let mut outputs = Outputs::new();
        outputs.set("outcome", "succeeded").unwrap();
        outputs.append_to(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("earlier=1\noutcome<<ghadelimiter_"),
            "{text}"
        );
    }

    #[test]
    fn annotation_fields_are_escaped() {
        let loc = Location {
            file: "a,b:c%.toml".into(),
            line: Some(3),
            column: Some(5),
        };
        let a = Annotation::new(Level::Error, 0, Some("t:i,t\nle"), Some(&loc), HOSTILE);
        assert_eq!(
            a.command,
            "::error file=a%2Cb%3Ac%25.toml,line=3,col=5,title=t%3Ai%2Ct%0Ale::\
             100%25 a,b:c%0D%0Aline2%0A::endgroup::%0A::error::pwned%0A%250A"
        );
        assert!(!a.command.contains('\n') && !a.command.contains('\r'));
        assert_eq!(a.text, format!("a,b:c%.toml:3:5: {HOSTILE}"));
        let bare = Annotation::new(Level::Notice, 0, None, None, "hi");
        assert_eq!(bare.command, "::notice::hi");
    }

    #[test]
    fn node_annotations_name_the_node_and_exit_code() {
        let a = Annotation::node_outcome("run-1", "te,st", Status::Failed, Some(101), None);
        assert_eq!(
            a.command,
            "::error title=vizier%3A te%2Cst::node `te,st` failed with exit code 101 (run `run-1`)"
        );
        assert_eq!(a.rank, rank::NODE_FAILED);
    }

    #[test]
    fn at_most_ten_errors_most_important_first() {
        let mut all = Vec::new();
        for i in 0..12 {
            all.push(Annotation::node_outcome(
                "r",
                &format!("dep{i}"),
                Status::BlockedByDependency,
                None,
                None,
            ));
        }
        all.push(Annotation::new(Level::Warning, 0, None, None, "w"));
        for i in 0..3 {
            all.push(Annotation::node_outcome(
                "r",
                &format!("cause{i}"),
                Status::Failed,
                Some(1),
                None,
            ));
        }
        let limited = limit(all);
        let shown: Vec<&str> = limited.shown.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(limited.shown.len(), 11, "ten errors and the warning");
        assert!(
            shown[0].contains("cause0") && shown[2].contains("cause2"),
            "{shown:?}"
        );
        assert!(shown[3].contains("dep0"));
        assert_eq!(shown[10], "w");
        let overflow: Vec<&str> = limited.overflow.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(overflow.len(), 5);
        assert!(overflow[0].contains("dep7") && overflow[4].contains("dep11"));
        assert_eq!(limited.commands().lines().count(), 11);
    }

    #[test]
    fn group_titles_cannot_inject_lines() {
        assert_eq!(group("a\n::error::x%"), "::group::a%0A::error::x%25\n");
    }

    #[test]
    fn logs_cannot_close_their_group_or_issue_commands() {
        let text =
            grouped_log_with("node `t`", HOSTILE, &mut scripted(&["endgroup", "TOK"])).unwrap();
        assert_eq!(
            text,
            format!("::group::node `t`\n::stop-commands::TOK\n{HOSTILE}\n::TOK::\n::endgroup::\n")
        );
        // Every line the runner reads as a command while commands are on is ours.
        let mut stopped = false;
        let mut commands = Vec::new();
        for line in text.lines() {
            if stopped {
                if line == "::TOK::" {
                    stopped = false;
                }
                continue;
            }
            if line.starts_with("::stop-commands::") {
                stopped = true;
            }
            commands.push(line);
        }
        assert_eq!(
            commands,
            ["::group::node `t`", "::stop-commands::TOK", "::endgroup::"]
        );
        let real = grouped_log("n", "x").unwrap();
        assert!(real.contains("::stop-commands::vizier-log-"));
    }

    #[test]
    fn a_summary_that_fits_is_left_alone() {
        assert_eq!(truncate_summary("# hi\n", 100), "# hi\n");
    }

    #[test]
    fn a_cut_summary_closes_what_it_opened_and_says_so() {
        let mut md = String::from("# run\n<details><summary>big</summary>\n\n```mermaid\n");
        for i in 0..10_000 {
            md.push_str(&format!("  n{i} --> n{}\n", i + 1));
        }
        md.push_str("```\n</details>\n");
        let cut = truncate_summary(&md, 4096);
        assert!(cut.len() <= 4096, "{}", cut.len());
        assert!(cut.ends_with("uploaded artifacts.\n"), "{cut}");
        assert!(
            cut.contains("```\n</details>\n\n> **Summary truncated**"),
            "{cut}"
        );
        assert_eq!(cut.matches("```").count() % 2, 0);
        // Too small for even the note: nothing, never more than the limit.
        assert_eq!(truncate_summary(&md, 10), "");
    }

    #[test]
    fn the_summary_file_stays_under_the_limit_with_earlier_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "x".repeat(SUMMARY_LIMIT - 1000)).unwrap();
        append_summary(&path, &"line\n".repeat(1000)).unwrap();
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(len <= SUMMARY_LIMIT, "{len}");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("Summary truncated")
        );
    }

    #[test]
    fn runner_variables() {
        let r = Runner::from_vars(|n| match n {
            "GITHUB_ACTIONS" => Some("true".into()),
            "GITHUB_OUTPUT" => Some("/o".into()),
            "GITHUB_STEP_SUMMARY" => Some(String::new()),
            _ => None,
        });
        assert_eq!(
            r,
            Runner {
                actions: true,
                output: Some("/o".into()),
                step_summary: None
            }
        );
        assert!(!Runner::from_vars(|_| None).actions);
    }
}
