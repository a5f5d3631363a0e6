//! Renderers: rustc-style human text, one JSON object, GitHub workflow-command annotations.

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde::Serialize;

use super::{Diagnostic, Severity, SourceMap};

/// One file that was checked, for the JSON `files` list.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileSummary {
    pub path: String,
    pub template_id: Option<String>,
    pub ok: bool,
}

/// Lines longer than this (bytes) are shown as a window around the span.
const LONG_LINE: usize = 400;
/// Context kept on each side of the span in such a window, and the longest span shown whole.
const CONTEXT: usize = 60;

/// A window of `text` around `start..end` (byte offsets on char boundaries), with the span's new
/// offsets in it.
fn clip(text: &str, start: usize, end: usize) -> (&str, usize, usize) {
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let from = floor(start.saturating_sub(CONTEXT));
    let end = floor(end.min(start + 2 * CONTEXT).max(start));
    let to = floor((end + CONTEXT).min(text.len()));
    let end = end.max(start);
    (&text[from..to], start - from, end - from)
}

/// rustc-style text: `error[rule]: message`, `--> path:line:col`, the line, a caret, `help:`.
pub fn render_human(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for diag in diags {
        let level = match diag.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = match &diag.node {
            Some(node) => format!("{} (node `{node}`)", diag.message),
            None => diag.message.clone(),
        };
        let mut group = Group::with_title(level.primary_title(title).id(diag.rule.id()));
        match sources.find(&diag.path) {
            Some(file) => {
                let (text, line_start) = file.line(diag.line);
                let start = diag.span.start.saturating_sub(line_start).min(text.len());
                let mut end = if diag.end_line == diag.line {
                    diag.span.end.saturating_sub(line_start).min(text.len())
                } else {
                    text.len()
                };
                if end <= start {
                    // Point at one character so the caret is visible even for an empty span.
                    end = text[start..]
                        .chars()
                        .next()
                        .map_or(start, |c| start + c.len_utf8());
                }
                if text.len() <= LONG_LINE {
                    group = group.element(
                        Snippet::source(text)
                            .line_start(diag.line)
                            .path(diag.path.to_string())
                            .annotation(AnnotationKind::Primary.span(start..end)),
                    );
                } else {
                    // A very long line (a generated template) is shown as a window around the span,
                    // so each diagnostic costs the window, not the line: many findings on one long
                    // line must not make rendering quadratic. The origin keeps the true column.
                    let (window, start, end) = clip(text, start, end);
                    group = group
                        .element(
                            Origin::path(diag.path.to_string())
                                .line(diag.line)
                                .char_column(diag.column),
                        )
                        .element(
                            Snippet::source(window)
                                .line_start(diag.line)
                                .annotation(AnnotationKind::Primary.span(start..end)),
                        );
                }
            }
            None => {
                group = group.element(
                    Origin::path(diag.path.to_string())
                        .line(diag.line)
                        .char_column(diag.column),
                );
            }
        }
        if let Some(help) = &diag.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    rule: &'static str,
    severity: &'static str,
    path: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    node: Option<&'a str>,
    message: &'a str,
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    files: &'a [FileSummary],
    diagnostics: Vec<JsonDiagnostic<'a>>,
    errors: usize,
    warnings: usize,
}

/// The `--format json` object, followed by a newline.
pub fn render_json(files: &[FileSummary], diags: &[Diagnostic]) -> String {
    let report = JsonReport {
        version: 1,
        files,
        diagnostics: diags
            .iter()
            .map(|d| JsonDiagnostic {
                rule: d.rule.id(),
                severity: d.severity.as_str(),
                path: &d.path,
                line: d.line,
                column: d.column,
                end_line: d.end_line,
                end_column: d.end_column,
                node: d.node.as_deref(),
                message: &d.message,
                help: d.help.as_deref(),
            })
            .collect(),
        errors: diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count(),
        warnings: diags
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count(),
    };
    let mut text = serde_json::to_string_pretty(&report).expect("report serializes");
    text.push('\n');
    text
}

/// One `::error` / `::warning` workflow command per diagnostic.
pub fn render_github(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&github_annotation(d));
        out.push('\n');
    }
    out
}

/// A single annotation line, with every property and the message escaped as GitHub requires.
pub fn github_annotation(d: &Diagnostic) -> String {
    let mut message = match &d.node {
        Some(node) => format!("{} (node `{node}`)", d.message),
        None => d.message.clone(),
    };
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    // Exactly these properties, in this order, so line-oriented consumers can match it.
    format!(
        "::{} file={},line={},col={},title={}::{}",
        d.severity.as_str(),
        escape_property(&d.path),
        d.line,
        d.column,
        escape_property(&format!("vizier({})", d.rule.id())),
        escape_data(&message)
    )
}

/// Escapes the message part of a workflow command (`%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (`%`, CR, LF, `:`, `,`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_cannot_break_out_of_an_annotation() {
        let hostile = "a,b:c%d\r\n::error::pwned";
        assert_eq!(
            escape_property(hostile),
            "a%2Cb%3Ac%25d%0D%0A%3A%3Aerror%3A%3Apwned"
        );
        let data = escape_data(hostile);
        assert!(!data.contains('\n') && !data.contains('\r'));
        assert_eq!(data, "a,b:c%25d%0D%0A::error::pwned");
    }
}
