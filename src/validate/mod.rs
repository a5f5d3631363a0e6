//! Validation: reads files through a [`Reader`], parses them, assembles compositions,
//! runs every rule, and returns all findings of all files in one sorted report.
//!
//! Rules live one concern per file and only push findings; they never stop at the first problem.

mod artifacts;
mod cli_mapping;
pub mod config;
mod contracts;
mod output_in_shell;
mod output_ref;
mod paths;
mod producers;
mod prompt_files;
mod structure;
mod uses;

use std::collections::{HashMap, HashSet};

use crate::config::Config;
use crate::diagnostic::{
    Diagnostic, FileSummary, Finding, Rule, Severity, Sink, SourceFile, SourceMap,
};
use crate::error::Result;
use crate::template::compose::{MAX_COMPOSED_NODES, StageInput, assemble};
use crate::template::graph::Graph;
use crate::template::{Template, parse_template};
use crate::workspace::{Reader, is_config, join_relative};
use config::parse_config;

pub use crate::template::PROMPT_TYPE;

/// What rules see: where to put findings, and the files for positions.
pub struct Ctx<'a> {
    sources: &'a SourceMap,
    findings: &'a mut Vec<Finding>,
}

impl Ctx<'_> {
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    pub fn position(&self, file: usize, offset: usize) -> (usize, usize) {
        self.sources.get(file).position(offset)
    }

    pub fn path(&self, file: usize) -> &str {
        &self.sources.get(file).path
    }
}

/// Runs every rule over one (composed) template.
pub fn check_template(template: &Template, sources: &SourceMap, findings: &mut Vec<Finding>) {
    let graph = Graph::build(template);
    let mut ctx = Ctx { sources, findings };
    for node in &template.nodes {
        uses::check(&mut ctx, node);
        paths::check(&mut ctx, node);
    }
    structure::check(&mut ctx, template, &graph);
    artifacts::check(&mut ctx, template);
    contracts::check(&mut ctx, template, &graph);
    producers::check(&mut ctx, template);
    output_in_shell::check(&mut ctx, template);
    output_ref::check(&mut ctx, template, &graph);
    cli_mapping::check(&mut ctx, template);
}

/// The outcome of validating a set of files.
#[derive(Debug, Default)]
pub struct Report {
    pub sources: SourceMap,
    pub files: Vec<FileSummary>,
    pub diagnostics: Vec<Diagnostic>,
    /// Valid templates by path (compositions already assembled), for the commands that go on to run.
    pub templates: HashMap<String, Template>,
    pub config: Option<Config>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

enum State {
    Loading,
    Missing,
    Done {
        template: Option<Box<Template>>,
        ok: bool,
    },
}

struct Driver<'r> {
    reader: &'r dyn Reader,
    sources: SourceMap,
    findings: Vec<Finding>,
    states: HashMap<String, State>,
    stack: Vec<String>,
    summaries: Vec<FileSummary>,
    config: Option<Config>,
    /// Prompt files already read, by path.
    prompt_files: HashMap<String, usize>,
}

/// Validates `paths` (repository-relative) as read through `reader`. A path that does not exist is an
/// operational error; everything about the content is a finding.
pub fn validate(reader: &dyn Reader, paths: &[String]) -> Result<Report> {
    let mut driver = Driver {
        reader,
        sources: SourceMap::default(),
        findings: Vec::new(),
        states: HashMap::new(),
        stack: Vec::new(),
        summaries: Vec::new(),
        config: None,
        prompt_files: HashMap::new(),
    };
    let mut paths: Vec<&String> = paths.iter().collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        if is_config(path) {
            driver.load_config(path)?;
        } else {
            driver.load(path)?;
            if matches!(driver.states.get(path.as_str()), Some(State::Missing)) {
                return Err(crate::error::Error::Read {
                    path: path.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("not found in {}", reader.describe()),
                    ),
                });
            }
        }
    }
    let mut sink = Sink::new(&driver.sources);
    for finding in driver.findings.drain(..) {
        sink.push(finding);
    }
    let diagnostics = sink.finish();
    let mut files = driver.summaries;
    files.sort();
    let templates = driver
        .states
        .into_iter()
        .filter_map(|(path, state)| match state {
            State::Done {
                template: Some(t),
                ok: true,
            } => Some((path, *t)),
            _ => None,
        })
        .collect();
    Ok(Report {
        sources: driver.sources,
        files,
        diagnostics,
        templates,
        config: driver.config,
    })
}

impl Driver<'_> {
    fn load_config(&mut self, path: &str) -> Result<()> {
        let text = match self.reader.read(path) {
            Ok(Some(text)) => text,
            Ok(None) => {
                return Err(crate::error::Error::Read {
                    path: path.to_owned(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
                });
            }
            Err(crate::error::Error::NotUtf8 { .. }) => {
                self.not_utf8(path);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let file = self.sources.add(SourceFile::new(path, text));
        let (config, findings) = parse_config(file, &self.sources.get(file).text);
        let ok = !findings.iter().any(|f| f.severity == Severity::Error);
        self.findings.extend(findings);
        self.summaries.push(FileSummary {
            path: path.to_owned(),
            template_id: None,
            ok,
        });
        if ok {
            self.config = config;
        }
        Ok(())
    }

    /// A file that is not UTF-8 (TOML is): a `toml-syntax` finding at its start, and a summary.
    fn not_utf8(&mut self, path: &str) {
        let file = self.sources.add(SourceFile::new(path, String::new()));
        self.findings.push(
            Finding::error(
                Rule::TomlSyntax,
                file,
                0..0,
                "the file is not valid UTF-8 (TOML files are UTF-8 text)",
            )
            .help("save the file as UTF-8"),
        );
        self.summaries.push(FileSummary {
            path: path.to_owned(),
            template_id: None,
            ok: false,
        });
    }

    /// Loads, composes and checks one template file, once.
    fn load(&mut self, path: &str) -> Result<()> {
        if self.states.contains_key(path) {
            return Ok(());
        }
        let text = match self.reader.read(path) {
            Ok(Some(text)) => text,
            Ok(None) => {
                self.states.insert(path.to_owned(), State::Missing);
                return Ok(());
            }
            // Content, not an operation: a finding of this file, and the other files go on.
            Err(crate::error::Error::NotUtf8 { .. }) => {
                self.not_utf8(path);
                self.states.insert(
                    path.to_owned(),
                    State::Done {
                        template: None,
                        ok: false,
                    },
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        self.states.insert(path.to_owned(), State::Loading);
        self.stack.push(path.to_owned());
        let file = self.sources.add(SourceFile::new(path, text));
        let first_finding = self.findings.len();
        let parsed = parse_template(file, &self.sources.get(file).text);
        self.findings.extend(parsed.findings);

        let template = match parsed.template {
            Some(template) if !template.imports.is_empty() => Some(self.compose(path, template)?),
            other => other,
        };
        if let Some(template) = &template {
            let mut found = Vec::new();
            check_template(template, &self.sources, &mut found);
            if !template.stages.is_empty() {
                // Each stage was checked on its own when it was loaded; checking it again inside the
                // composition must not repeat those findings under the renamed node ids.
                let place = |f: &Finding| (f.rule, f.file, f.span.start, f.span.end);
                let seen: HashSet<_> = self
                    .findings
                    .iter()
                    .filter(|f| f.file != file)
                    .map(place)
                    .collect();
                found.retain(|f| f.file == file || !seen.contains(&place(f)));
            }
            self.findings.extend(found);
            prompt_files::check(
                self.reader,
                &mut self.sources,
                &mut self.prompt_files,
                template,
                file,
                &mut self.findings,
            )?;
        }
        let ok = !self.findings[first_finding..]
            .iter()
            .any(|f| f.severity == Severity::Error);
        self.summaries.push(FileSummary {
            path: path.to_owned(),
            template_id: template
                .as_ref()
                .and_then(|t| t.id.as_ref().map(|s| s.value.clone())),
            ok,
        });
        self.stack.pop();
        self.states.insert(
            path.to_owned(),
            State::Done {
                template: template.map(Box::new),
                ok,
            },
        );
        Ok(())
    }

    fn compose(&mut self, path: &str, root: Template) -> Result<Template> {
        let mut stages = Vec::new();
        let mut complete = true;
        for import in &root.imports {
            let (Some(name), Some(rel)) = (&import.name, &import.path) else {
                complete = false;
                continue;
            };
            let Some(target) = join_relative(path, &rel.value) else {
                self.findings.push(
                    Finding::error(
                        Rule::ImportError,
                        import.file,
                        rel.span.clone(),
                        format!("import path `{}` leaves the repository root", rel.value),
                    )
                    .help("import paths are relative to this file and stay inside the repository"),
                );
                complete = false;
                continue;
            };
            if let Some(pos) = self.stack.iter().position(|p| *p == target) {
                let mut chain: Vec<String> =
                    self.stack[pos..].iter().map(|p| format!("`{p}`")).collect();
                chain.push(format!("`{target}`"));
                self.findings.push(
                    Finding::error(
                        Rule::ImportCycle,
                        import.file,
                        rel.span.clone(),
                        format!("import cycle: {}", chain.join(" → ")),
                    )
                    .help("a template cannot import itself, directly or through other imports"),
                );
                complete = false;
                continue;
            }
            if let Err(e) = self.load(&target) {
                self.findings.push(Finding::error(
                    Rule::ImportError,
                    import.file,
                    rel.span.clone(),
                    format!("cannot read imported template `{target}`: {e}"),
                ));
                complete = false;
                continue;
            }
            match self.states.get(&target) {
                Some(State::Done {
                    template: Some(t),
                    ok: true,
                }) => stages.push(StageInput {
                    name: name.clone(),
                    import_file: import.file,
                    path: target.clone(),
                    template: (**t).clone(),
                }),
                Some(State::Missing) => {
                    self.findings.push(
                        Finding::error(
                            Rule::ImportError,
                            import.file,
                            rel.span.clone(),
                            format!("imported template `{target}` does not exist"),
                        )
                        .help("import paths are relative to the file that imports"),
                    );
                    complete = false;
                }
                _ => {
                    self.findings.push(
                        Finding::error(
                            Rule::ImportError,
                            import.file,
                            rel.span.clone(),
                            format!("imported template `{target}` has errors of its own"),
                        )
                        .help("fix the errors reported in that file first"),
                    );
                    complete = false;
                }
            }
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for import in &root.imports {
            if let Some(name) = &import.name
                && !seen.insert(&name.value)
            {
                // Two stages of one name would rename their nodes alike; do not assemble them.
                complete = false;
                self.findings.push(Finding::error(
                    Rule::DuplicateNode,
                    import.file,
                    name.span.clone(),
                    format!("stage `{}` is imported twice", name.value),
                ));
            }
        }
        // Imports multiply (each is its own copy): refuse a composition past the node cap at the
        // import that crosses it, before anything of that size is built.
        let mut total = root.nodes.len();
        for stage in &stages {
            total = total.saturating_add(stage.template.nodes.len());
            if complete && total > MAX_COMPOSED_NODES {
                let span = root
                    .imports
                    .iter()
                    .find(|i| i.name.as_ref().map(|n| &n.value) == Some(&stage.name.value))
                    .and_then(|i| i.path.as_ref())
                    .map_or(stage.name.span.clone(), |p| p.span.clone());
                self.findings.push(
                    Finding::error(
                        Rule::ImportError,
                        stage.import_file,
                        span,
                        format!(
                            "the composition would have more than {MAX_COMPOSED_NODES} nodes with stage `{}` (`{}`, {} nodes): every import is a copy of its file",
                            stage.name.value,
                            stage.path,
                            stage.template.nodes.len()
                        ),
                    )
                    .help("import a file once, or split the workflow into templates that run separately"),
                );
                complete = false;
            }
        }
        if !complete {
            // Check the composing file's own nodes, but do not link stages that failed to load.
            return Ok(Template {
                imports: root.imports.clone(),
                links: Vec::new(),
                ..root
            });
        }
        let (composed, findings) = assemble(&root, stages);
        self.findings.extend(findings);
        Ok(composed)
    }
}
