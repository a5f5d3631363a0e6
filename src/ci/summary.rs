//! The Markdown step summary of a CI job: per run, a table of nodes (status, time, exit code,
//! attempts) and a mermaid flowchart of the DAG coloured by outcome; then the findings GitHub's
//! annotation limit left out.
//!
//! Everything that came from a template, an event or a record is escaped for where it lands (Markdown
//! table cell or mermaid label), so a node named ``a|b`</details>`` stays one cell. Large DAGs collapse
//! in `<details>`, a diagram past mermaid's text limit is left out with a note, and the whole stays
//! under GitHub's 1 MiB ([`super::github::truncate_summary`]).

use std::collections::HashMap;

use super::github::{Annotation, SUMMARY_LIMIT, truncate_summary};
use crate::store::{Manifest, ManifestNode, RunOutcome, Status};

/// Runs with more nodes than this show their table and diagram folded in `<details>`.
pub const COLLAPSE_ABOVE: usize = 30;
/// Mermaid refuses diagrams whose source is longer than this (its default `maxTextSize`).
pub const MERMAID_MAX_TEXT: usize = 50_000;
/// Changed paths listed per run; the full list is in the artifacts.
pub const CHANGED_PATHS_SHOWN: usize = 100;

/// What the summary shows.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub runs: Vec<Manifest>,
    /// Annotations beyond GitHub's per-step limit ([`super::github::Limited::overflow`]).
    pub overflow: Vec<Annotation>,
    /// Lines said before the runs (e.g. "ref deleted: nothing to run"), as plain text.
    pub notes: Vec<String>,
}

impl Summary {
    /// The Markdown, at most [`SUMMARY_LIMIT`] bytes.
    pub fn render(&self) -> String {
        self.render_within(SUMMARY_LIMIT)
    }

    /// The Markdown, at most `limit` bytes.
    pub fn render_within(&self, limit: usize) -> String {
        let mut md = String::new();
        let failed = self.runs.iter().filter(|r| !r.succeeded()).count();
        let verdict = if self.runs.is_empty() {
            "nothing to run"
        } else if failed == 0 {
            "passed"
        } else {
            "failed"
        };
        md.push_str(&format!("## vizier ci: {verdict}\n\n"));
        for note in &self.notes {
            md.push_str(&format!("{}\n\n", md_text(note)));
        }
        if self.runs.len() > 1 {
            md.push_str(&format!(
                "{} runs: {} succeeded, {failed} did not\n\n",
                self.runs.len(),
                self.runs.len() - failed
            ));
        }
        for run in &self.runs {
            md.push_str(&render_run(run));
        }
        if !self.overflow.is_empty() {
            md.push_str(&format!(
                "### {} more findings\n\nGitHub shows at most 10 error annotations per step; these were not annotated:\n\n",
                self.overflow.len()
            ));
            for a in &self.overflow {
                md.push_str(&format!("- {}: {}\n", a.level.as_str(), md_text(&a.text)));
            }
            md.push('\n');
        }
        truncate_summary(&md, limit)
    }
}

/// One run: heading, trigger line, node table and diagram.
pub fn render_run(run: &Manifest) -> String {
    let mut md = String::new();
    let template = run
        .template
        .as_ref()
        .and_then(|t| [&t.id, &t.path].into_iter().find(|s| !s.is_empty()))
        .map_or("template", String::as_str);
    md.push_str(&format!(
        "### {} {}: {} (run {})\n\n",
        Look::of_run(run).icon(),
        md_text(template),
        md_text(run.outcome_text()),
        md_text(&run.run_id),
    ));
    let mut facts = Vec::new();
    let trigger = &run.trigger;
    if !trigger.ref_name.is_empty() {
        facts.push(format!("ref {}", md_text(&trigger.ref_name)));
    }
    if !trigger.sha.is_empty() {
        let sha = &trigger.sha;
        facts.push(format!("commit {}", md_text(sha.get(..12).unwrap_or(sha))));
    }
    if !trigger.kind.is_empty() {
        facts.push(format!("trigger {}", md_text(&trigger.kind)));
    }
    facts.push(format!("{} nodes", run.nodes.len()));
    if let Some(secs) = run.duration_secs() {
        facts.push(duration(secs));
    }
    md.push_str(&facts.join(" · "));
    md.push_str("\n\n");
    let body = format!("{}\n{}", table(&run.nodes), diagram(&run.nodes));
    if run.nodes.len() > COLLAPSE_ABOVE {
        let not_ok = run
            .nodes
            .iter()
            .filter(|n| !matches!(n.status, Status::Succeeded | Status::Skipped))
            .count();
        md.push_str(&format!(
            "<details><summary>{} nodes, {not_ok} not succeeded: table and graph</summary>\n\n{body}\n</details>\n\n",
            run.nodes.len()
        ));
    } else {
        md.push_str(&body);
        md.push('\n');
    }
    let changed = &run.trigger.changed_paths;
    if !changed.is_empty() {
        md.push_str(&format!(
            "<details><summary>{} changed paths</summary>\n\n",
            changed.len()
        ));
        for p in changed.iter().take(CHANGED_PATHS_SHOWN) {
            md.push_str(&format!("- {}\n", md_text(p)));
        }
        if changed.len() > CHANGED_PATHS_SHOWN {
            md.push_str(&format!(
                "- … and {} more (see the manifest in the artifacts)\n",
                changed.len() - CHANGED_PATHS_SHOWN
            ));
        }
        md.push_str("\n</details>\n\n");
    }
    md
}

fn table(nodes: &[ManifestNode]) -> String {
    // A fanned-out run also says which runner job ran each node.
    let runners = nodes.iter().any(|n| n.runner().is_some());
    let mut md = String::from("| node | status | time | exit code | attempts |");
    md.push_str(if runners { " runner |\n" } else { "\n" });
    md.push_str("|---|---|---|--:|--:|");
    md.push_str(if runners { "---|\n" } else { "\n" });
    for n in nodes {
        md.push_str(&format!(
            "| {} | {} {} | {} | {} | {} |",
            md_text(&n.node_id),
            icon(n.status),
            md_text(n.status.as_str()),
            n.duration_secs().map_or_else(|| "–".to_owned(), duration),
            n.exit_code
                .map_or_else(|| "–".to_owned(), |c| c.to_string()),
            n.attempts,
        ));
        if runners {
            md.push_str(&format!(" {} |", md_text(n.runner().unwrap_or("–"))));
        }
        md.push('\n');
    }
    md
}

/// The mermaid flowchart in a fenced block, or a note when it is too large for mermaid to draw.
pub fn diagram(nodes: &[ManifestNode]) -> String {
    let src = flowchart(nodes);
    if src.len() > MERMAID_MAX_TEXT {
        return format!(
            "_The graph of {} nodes is too large for a mermaid diagram; the table above and the manifest have every node._\n",
            nodes.len()
        );
    }
    format!("```mermaid\n{src}```\n")
}

/// The mermaid source: one box per node (`n<index>`, so ids need no escaping), the nodes of each
/// composition stage in a subgraph, an edge per `after` entry, a class per status. Also what
/// `vizier jobs schedule --format mermaid` prints.
pub fn flowchart(nodes: &[ManifestNode]) -> String {
    let mut src = String::from("flowchart TD\n");
    let mut used = Vec::new();
    let mut stages: Vec<&str> = Vec::new();
    for n in nodes {
        if let Some(stage) = n.stage.as_deref()
            && !stages.contains(&stage)
        {
            stages.push(stage);
        }
    }
    let mut boxes = |src: &mut String, indent: &str, wanted: Option<&str>| {
        for (i, n) in nodes.iter().enumerate() {
            if n.stage.as_deref() != wanted {
                continue;
            }
            let look = Look::of(n.status);
            if !used.contains(&look) {
                used.push(look);
            }
            let class = look.class();
            let runner = n
                .runner()
                .map(|r| format!("<br/>{}", mermaid_text(r)))
                .unwrap_or_default();
            src.push_str(&format!(
                "{indent}n{i}[\"{}<br/>{}{runner}\"]:::{class}\n",
                mermaid_text(&n.node_id),
                n.status.as_str()
            ));
        }
    };
    for (k, stage) in stages.iter().enumerate() {
        src.push_str(&format!("  subgraph s{k}[\"{}\"]\n", mermaid_text(stage)));
        boxes(&mut src, "    ", Some(stage));
        src.push_str("  end\n");
    }
    boxes(&mut src, "  ", None);
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.job_id.as_str(), i))
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        for dep in &n.after {
            if let Some(j) = index.get(dep.as_str()) {
                src.push_str(&format!("  n{j} --> n{i}\n"));
            }
        }
    }
    for look in used {
        src.push_str(&format!("  classDef {} {}\n", look.class(), look.style()));
    }
    src
}

/// How a node is drawn: a mermaid class (its name, its colours) and an icon. Statuses that read
/// alike share one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Look {
    Succeeded,
    Failed,
    Blocked,
    BlockedByDependency,
    Skipped,
    Cancelled,
    Running,
    Waiting,
}

impl Look {
    fn of(status: Status) -> Look {
        match status {
            Status::Succeeded => Look::Succeeded,
            Status::Failed => Look::Failed,
            Status::Blocked | Status::BlockedByApproval => Look::Blocked,
            Status::BlockedByDependency => Look::BlockedByDependency,
            Status::Skipped => Look::Skipped,
            Status::Cancelled => Look::Cancelled,
            Status::Running => Look::Running,
            Status::Queued
            | Status::WaitingOnDeps
            | Status::WaitingOnApproval
            | Status::WaitingOnLocks => Look::Waiting,
        }
    }

    /// A run's look: its outcome's, or waiting while it runs.
    fn of_run(run: &Manifest) -> Look {
        match run.outcome {
            None => Look::Waiting,
            Some(RunOutcome::Succeeded) => Look::Succeeded,
            Some(RunOutcome::Failed) => Look::Failed,
        }
    }

    /// The mermaid class name.
    fn class(self) -> &'static str {
        match self {
            Look::Succeeded => Status::Succeeded.as_str(),
            Look::Failed => Status::Failed.as_str(),
            Look::Blocked => Status::Blocked.as_str(),
            Look::BlockedByDependency => Status::BlockedByDependency.as_str(),
            Look::Skipped => Status::Skipped.as_str(),
            Look::Cancelled => Status::Cancelled.as_str(),
            Look::Running => Status::Running.as_str(),
            Look::Waiting => "waiting",
        }
    }

    fn style(self) -> &'static str {
        match self {
            Look::Succeeded => "fill:#d3f9d8,stroke:#2b8a3e,color:#000",
            Look::Failed => "fill:#ffe3e3,stroke:#c92a2a,color:#000",
            Look::Blocked => "fill:#fff3bf,stroke:#e67700,color:#000",
            Look::BlockedByDependency => {
                "fill:#ffe8cc,stroke:#d9480f,stroke-dasharray:4,color:#000"
            }
            Look::Skipped => "fill:#f1f3f5,stroke:#868e96,color:#495057",
            Look::Cancelled => "fill:#e9ecef,stroke:#495057,color:#000",
            Look::Running => "fill:#d0ebff,stroke:#1971c2,color:#000",
            Look::Waiting => "fill:#f8f9fa,stroke:#adb5bd,color:#000",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            Look::Succeeded => "✅",
            Look::Failed => "❌",
            Look::Blocked | Look::BlockedByDependency => "⛔",
            Look::Skipped => "⏭️",
            Look::Cancelled => "🚫",
            Look::Running | Look::Waiting => "⏳",
        }
    }
}

fn icon(status: Status) -> &'static str {
    Look::of(status).icon()
}

fn duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("{} m {:02} s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("{} h {:02} m", m / 60, m % 60)
    }
}

/// Text for a Markdown table cell or paragraph: one line, and every character that Markdown or HTML
/// would read as syntax written as a numeric entity.
pub fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '~' | '<' | '>'
            | '&' | '"' | '\'' | '$' | ':' => out.push_str(&format!("&#{};", c as u32)),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Text for a quoted mermaid label: letters, digits, space and `-_./` as they are, everything else as
/// a mermaid entity code (`#35;`), so no quote, bracket, backtick or fence can end the label or block.
pub fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c if c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '/') => out.push(c),
            c => out.push_str(&format!("#{};", c as u32)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::github::{Level, Location};

    const PASSING: &str = r#"{"version":1,"run_id":"run-aaaaaaaaaaaaaaaa","outcome":"succeeded",
      "template":{"id":"template.ci","path":".vizier/workflow/ci.toml"},
      "trigger":{"kind":"push","sha":"1111111111111111111111111111111111111111","ref":"refs/heads/main","changed_paths":["src/a.rs","b|c.md"]},
      "created_at":"2026-01-02T03:04:05Z","finished_at":"2026-01-02T03:05:10Z",
      "nodes":[
        {"node_id":"fmt","job_id":"run-aaaaaaaaaaaaaaaa-fmt","after":[],"status":"succeeded","attempts":1,"exit_code":0,
         "started_at":"2026-01-02T03:04:06Z","finished_at":"2026-01-02T03:04:07.5Z"},
        {"node_id":"test","job_id":"run-aaaaaaaaaaaaaaaa-test","after":["run-aaaaaaaaaaaaaaaa-fmt"],"status":"succeeded","attempts":2,"exit_code":0,
         "started_at":"2026-01-02T03:04:08Z","finished_at":"2026-01-02T03:05:09Z"},
        {"node_id":"done","job_id":"run-aaaaaaaaaaaaaaaa-done","after":["run-aaaaaaaaaaaaaaaa-test"],"status":"succeeded","attempts":1}
      ]}"#;

    const FAILING: &str = r#"{"version":1,"run_id":"run-bbbbbbbbbbbbbbbb","outcome":"failed",
      "template":{"id":"template.ci"},
      "nodes":[
        {"node_id":"a|b`</details>\"]:::x\n```","job_id":"run-bbbbbbbbbbbbbbbb-a","after":[],"status":"failed","attempts":1,"exit_code":101},
        {"node_id":"later","job_id":"run-bbbbbbbbbbbbbbbb-later","after":["run-bbbbbbbbbbbbbbbb-a","run-missing"],"status":"blocked_by_dependency","attempts":0},
        {"node_id":"odd","job_id":"run-bbbbbbbbbbbbbbbb-odd","status":null,"future_field":{"x":1}}
      ]}"#;

    fn manifest(json: &str) -> Manifest {
        Manifest::parse(json.as_bytes(), std::path::Path::new("fixture.json")).unwrap()
    }

    #[test]
    fn a_passing_run_has_a_table_and_a_coloured_graph() {
        let md = Summary {
            runs: vec![manifest(PASSING)],
            ..Summary::default()
        }
        .render();
        assert!(md.starts_with("## vizier ci: passed\n"), "{md}");
        assert!(
            md.contains("### ✅ template.ci: succeeded (run run-aaaaaaaaaaaaaaaa)\n"),
            "{md}"
        );
        assert!(
            md.contains(
                "ref refs/heads/main · commit 111111111111 · trigger push · 3 nodes · 1 m 05 s"
            ),
            "{md}"
        );
        assert!(
            md.contains("| fmt | ✅ succeeded | 1.5 s | 0 | 1 |"),
            "{md}"
        );
        assert!(
            md.contains("| test | ✅ succeeded | 1 m 01 s | 0 | 2 |"),
            "{md}"
        );
        assert!(md.contains("| done | ✅ succeeded | – | – | 1 |"), "{md}");
        assert!(
            md.contains("```mermaid\nflowchart TD\n  n0[\"fmt<br/>succeeded\"]:::succeeded\n"),
            "{md}"
        );
        assert!(md.contains("  n0 --> n1\n  n1 --> n2\n"), "{md}");
        assert!(md.contains("  classDef succeeded fill:#d3f9d8"), "{md}");
        assert!(!md.contains("classDef failed"), "only the classes in use");
        assert!(
            md.contains("<details><summary>2 changed paths</summary>"),
            "{md}"
        );
        assert!(md.contains("- b&#124;c.md\n"), "{md}");
        assert!(
            !md.contains("<details><summary>3 nodes"),
            "small DAGs are not folded"
        );
    }

    #[test]
    fn hostile_node_names_stay_inside_their_cell_and_label() {
        let md = Summary {
            runs: vec![manifest(FAILING)],
            ..Summary::default()
        }
        .render();
        assert!(md.starts_with("## vizier ci: failed\n"), "{md}");
        let row = md.lines().find(|l| l.contains("101")).unwrap();
        assert_eq!(
            row,
            "| a&#124;b&#96;&#60;/details&#62;&#34;&#93;&#58;&#58;&#58;x &#96;&#96;&#96; | ❌ failed | – | 101 | 1 |"
        );
        assert_eq!(row.matches('|').count(), 6, "exactly five cells");
        assert!(md.contains("  n0[\"a#124;b#96;#60;/details#62;#34;#93;#58;#58;#58;x #96;#96;#96;<br/>failed\"]:::failed\n"), "{md}");
        assert_eq!(md.matches("```").count(), 2, "one fence opened, one closed");
        assert!(md.contains("  n0 --> n1\n"), "{md}");
        assert!(
            !md.contains("run-missing"),
            "a dangling dependency draws no edge"
        );
        assert!(md.contains("n1[\"later<br/>blocked_by_dependency\"]:::blocked_by_dependency"));
        assert!(md.contains("n2[\"odd<br/>queued\"]:::waiting"), "{md}");
        assert!(md.contains("| odd | ⏳ queued | – | – | 0 |"), "{md}");
    }

    #[test]
    fn several_runs_and_the_findings_left_out() {
        let overflow: Vec<Annotation> = (0..3)
            .map(|i| {
                Annotation::new(
                    Level::Error,
                    0,
                    None,
                    Some(&Location {
                        file: ".vizier/workflow/ci.toml".into(),
                        line: Some(i + 1),
                        column: None,
                    }),
                    "bad <b>thing</b>",
                )
            })
            .collect();
        let md = Summary {
            runs: vec![manifest(PASSING), manifest(FAILING)],
            overflow,
            notes: vec!["pushed `main`".into()],
        }
        .render();
        assert!(md.contains("2 runs: 1 succeeded, 1 did not"), "{md}");
        assert!(md.contains("pushed &#96;main&#96;\n"), "{md}");
        assert!(md.contains("### 3 more findings"), "{md}");
        assert!(
            md.contains(
                "- error: .vizier/workflow/ci.toml&#58;3&#58; bad &#60;b&#62;thing&#60;/b&#62;\n"
            ),
            "{md}"
        );
    }

    #[test]
    fn a_deleted_ref_summary_says_nothing_ran() {
        let md = Summary {
            notes: vec!["ref refs/heads/x was deleted: nothing to run".into()],
            ..Summary::default()
        }
        .render();
        assert_eq!(
            md,
            "## vizier ci: nothing to run\n\nref refs/heads/x was deleted&#58; nothing to run\n\n"
        );
    }

    fn big_run(n: usize, name_len: usize) -> Manifest {
        let nodes: Vec<ManifestNode> = (0..n)
            .map(|i| ManifestNode {
                node_id: format!("{i:0>width$}", width = name_len),
                job_id: format!("run-big-{i}"),
                after: if i == 0 {
                    vec![]
                } else {
                    vec![format!("run-big-{}", i - 1)]
                },
                status: if i % 7 == 0 {
                    Status::Failed
                } else {
                    Status::Succeeded
                },
                attempts: 1,
                ..ManifestNode::default()
            })
            .collect();
        Manifest {
            run_id: "run-big".into(),
            outcome: Some(RunOutcome::Failed),
            nodes,
            ..Manifest::default()
        }
    }

    #[test]
    fn large_dags_fold_into_details() {
        let md = Summary {
            runs: vec![big_run(COLLAPSE_ABOVE + 1, 4)],
            ..Summary::default()
        }
        .render();
        assert!(
            md.contains("<details><summary>31 nodes, 5 not succeeded: table and graph</summary>"),
            "{md}"
        );
        assert!(md.contains("```mermaid"));
        assert_eq!(
            md.matches("<details>").count(),
            md.matches("</details>").count()
        );
    }

    #[test]
    fn a_diagram_past_mermaids_limit_is_left_out() {
        let md = Summary {
            runs: vec![big_run(2_000, 8)],
            ..Summary::default()
        }
        .render();
        assert!(!md.contains("```mermaid"), "mermaid would refuse it");
        assert!(md.contains("too large for a mermaid diagram"));
        assert!(md.contains("| 00001999 |"));
    }

    #[test]
    fn a_huge_summary_stays_under_the_limit_with_a_note() {
        let md = Summary {
            runs: vec![big_run(40_000, 40)],
            ..Summary::default()
        }
        .render();
        assert!(md.len() <= SUMMARY_LIMIT, "{}", md.len());
        assert!(md.len() > SUMMARY_LIMIT - 4096, "it uses the room it has");
        assert!(md.contains("Summary truncated"));
        assert_eq!(
            md.matches("<details>").count(),
            md.matches("</details>").count()
        );
        let small = Summary {
            runs: vec![big_run(40_000, 40)],
            ..Summary::default()
        }
        .render_within(2000);
        assert!(small.len() <= 2000);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.04), "0.0 s");
        assert_eq!(duration(59.94), "59.9 s");
        assert_eq!(duration(61.0), "1 m 01 s");
        assert_eq!(duration(3.0 * 3600.0 + 125.0), "3 h 02 m");
    }
}
