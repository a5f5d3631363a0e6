//! `vizier validate` end to end: labels, positions, output formats, determinism, the
//! three places templates are read from, and exit codes. Per-rule cases live in `fixtures.rs`.

use std::os::unix::fs::symlink;

use predicates::prelude::*;
use serde_json::Value;
use vizier::template::identity::IDENTITIES;
use vizier::template::{Class, Kind};

use crate::support::*;

/// Runs `vizier validate --format json [args]` and returns the exit code and the report.
fn json_report(repo: &Repo, args: &[&str]) -> (i32, Value) {
    let out = repo
        .vizier()
        .args(["validate", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

fn diagnostics(report: &Value) -> &Vec<Value> {
    report["diagnostics"].as_array().unwrap()
}

/// `(rule, node, line, column)` of every diagnostic.
fn places(report: &Value) -> Vec<(String, String, u64, u64)> {
    diagnostics(report)
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_owned(),
                d["node"].as_str().unwrap_or("").to_owned(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A template with one node per label, each otherwise correct for a shell command, so the only
/// thing wrong with a node is its label. Node `n<i>` has its `uses` on line `7 + 6 * i`.
fn template_with_labels(labels: &[&str]) -> String {
    let mut text = String::from("id = \"template.labels\"\nversion = \"v1\"\n");
    for (i, label) in labels.iter().enumerate() {
        text.push_str(&format!(
            "\n[[nodes]]\nid = \"n{i}\"\nkind = \"shell\"\nuses = {}\nargs = {{ command = \"true\" }}\n",
            toml_string(label)
        ));
    }
    text
}

/// Validates a template with one node per label and asserts that each node, and nothing else, is
/// rejected with `rule` at its `uses` string. Returns the JSON report.
fn each_label_rejected(labels: &[&str], rule: &str) -> Value {
    let repo = Repo::new();
    repo.write(
        ".vizier/workflow/labels.toml",
        &template_with_labels(labels),
    );
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    let expected: Vec<_> = (0..labels.len())
        .map(|i| (rule.to_owned(), format!("n{i}"), 7 + 6 * i as u64, 8))
        .collect();
    assert_eq!(places(&report), expected);
    report
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn valid_repo_passes() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    repo.vizier()
        .arg("validate")
        .assert()
        .code(0)
        .stdout("ok: 1 file valid\n")
        .stderr("");
}

#[test]
fn the_repositorys_own_templates_and_config_are_valid() {
    let repo = Repo::new();
    let own = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".vizier");
    for name in ["draft", "approve", "merge", "ci"] {
        let text = std::fs::read_to_string(own.join(format!("workflow/{name}.toml")))
            .unwrap_or_else(|e| panic!(".vizier/workflow/{name}.toml must exist: {e}"));
        repo.write(&format!(".vizier/workflow/{name}.toml"), &text);
    }
    repo.write(
        ".vizier/config.toml",
        &std::fs::read_to_string(own.join("config.toml")).unwrap(),
    );
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(diagnostics(&report), &Vec::<Value>::new());
    assert_eq!(code, 0);
    assert_eq!(report["files"].as_array().unwrap().len(), 5);
}

#[test]
fn legacy_labels_are_rejected_outright() {
    let labels = [
        "vizier.plan.persist",
        "vizier.agent.draft",
        "vizier.git.stage_commit",
        "vizier.command.run",
        "vizier.terminal",
        "cap.plan.persist",
        "cap.agent.draft",
        "cap.agent.approve",
        "cap.git.stage_commit",
        "cap.shell.command.run",
        "cap.gate.cicd",
        "cap.agent.invoke.v2",
    ];
    let report = each_label_rejected(&labels, "legacy-uses");
    for (d, label) in diagnostics(&report).iter().zip(labels) {
        assert_eq!(
            d["message"],
            format!("`{label}` is a legacy label and is no longer accepted")
        );
    }
}

#[test]
fn unknown_labels_are_rejected_with_no_fallback_to_a_command() {
    // Each node carries `kind = "shell"` and a command, exactly what a custom-command fallback would
    // run; none of them may be accepted.
    let labels = [
        "my-custom-thing",
        "echo hello",
        "cap.env.shell.nope",
        "cap.env.builtin.command.run",
        "cap.env.shell.plan.persist",
        "cap.env.shell.command.run.extra",
        "cap.env.",
        "control.gate.nope",
        "control.terminal.now",
        "control.",
        "Control.terminal",
        "CAP.ENV.SHELL.COMMAND.RUN",
        " cap.env.shell.command.run",
        "cap.env.shell.command.run ",
        "cap.env.shell.command.run\n",
    ];
    each_label_rejected(&labels, "unknown-uses");
}

#[test]
fn every_canonical_label_is_accepted_with_its_kind_and_rejected_with_any_other() {
    let repo = Repo::new();
    let mut text = String::from("id = \"template.kinds\"\nversion = \"v1\"\n");
    let mut expected = Vec::new();
    let mut line = 2;
    let mut n = 0;
    for row in IDENTITIES {
        for kind in Kind::ALL {
            text.push_str(&format!(
                "\n[[nodes]]\nid = \"n{n}\"\nkind = \"{}\"\nuses = \"{}\"\n",
                kind.as_str(),
                row.uses
            ));
            // The caret is on the `kind` value.
            if kind != row.class.required_kind() {
                expected.push(("kind-mismatch".to_owned(), format!("n{n}"), line + 4, 8));
            }
            line += 5;
            n += 1;
        }
        // Leaving `kind` out means `builtin`.
        text.push_str(&format!(
            "\n[[nodes]]\nid = \"n{n}\"\nuses = \"{}\"\n",
            row.uses
        ));
        // With no `kind` to point at, the caret is on `uses`.
        if row.class != Class::EnvironmentBuiltin {
            expected.push(("kind-mismatch".to_owned(), format!("n{n}"), line + 4, 8));
        }
        line += 4;
        n += 1;
    }
    repo.write(".vizier/workflow/kinds.toml", &text);
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    let mismatches: Vec<_> = places(&report)
        .into_iter()
        .filter(|(rule, ..)| rule == "kind-mismatch")
        .collect();
    assert_eq!(mismatches, expected);
    let not_builtin = IDENTITIES
        .iter()
        .filter(|r| r.class != Class::EnvironmentBuiltin)
        .count();
    assert_eq!(expected.len(), IDENTITIES.len() * 3 + not_builtin);
}

/// Asserts one diagnostic's rule and exact span.
fn assert_span(report: &Value, rule: &str, path: &str, span: (u64, u64, u64, u64)) {
    let found: Vec<_> = diagnostics(report)
        .iter()
        .filter(|d| d["rule"] == rule && d["path"] == path)
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["end_line"].as_u64().unwrap(),
                d["end_column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        found.contains(&span),
        "{rule} in {path}: expected {span:?}, found {found:?}"
    );
}

#[test]
fn line_and_column_point_at_the_offending_value() {
    let repo = Repo::new();
    repo.write(
        ".vizier/workflow/t.toml",
        concat!(
            "id = \"template.t\"\n",                                         // 1
            "version = \"v1\"\n",                                            // 2
            "\n",                                                            // 3
            "[[nodes]]\n",                                                   // 4
            "id = \"é—build\"\n",                                            // 5
            "kind = \"shell\"\n",                                            // 6
            "uses =   \"cap.plan.persist\"\n",                               // 7
            "\n",                                                            // 8
            "[[nodes]]\n",                                                   // 9
            "id = \"test\"\n",                                               // 10
            "kind = \"shell\"\n",                                            // 11
            "uses = \"cap.env.shell.command.run\"\n",                        // 12
            "args = { command = \"ç ${nope}\", comand = \"x\" }\n",          // 13
            "after = [{ node_id = \"é—build\" }, { node_id = \"bild\" }]\n", // 14
            "on = { failed = [\"gone\"] }\n",                                // 15
            "retry = { mode = \"until_gate\", tries = 3 }\n",                // 16
            "\tgates = [{ kind = \"script\" }]\n",                           // 17
        ),
    );
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    let path = ".vizier/workflow/t.toml";
    // The `uses` string, quotes included, after extra spaces.
    assert_span(&report, "legacy-uses", path, (7, 10, 7, 28));
    // The unknown key of an inline table: columns count characters, not bytes.
    assert_span(&report, "unknown-field", path, (13, 33, 13, 39));
    assert_span(&report, "unknown-field", path, (16, 32, 16, 37));
    // The `${}` value that names an undeclared param.
    assert_span(&report, "undeclared-param", path, (13, 20, 13, 31));
    // The bad `after` entry (the second one), not the first or the node.
    assert_span(&report, "unknown-node-ref", path, (14, 47, 14, 53));
    // The route target.
    assert_span(&report, "unknown-node-ref", path, (15, 18, 15, 24));
    // The retry mode value; a tab counts as one column.
    assert_span(&report, "retry-loop", path, (16, 18, 16, 30));
    assert_span(&report, "missing-field", path, (17, 11, 17, 30));
    for d in diagnostics(&report) {
        assert!(d["line"].as_u64().unwrap() >= 1 && d["column"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn composition_problems_are_reported_where_they_are_written() {
    let repo = Repo::new();
    repo.write(
        ".vizier/workflow/build.toml",
        "id = \"template.build\"\nversion = \"v1\"\n\n[[nodes]]\nid = \"build\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\n",
    );
    repo.write(".vizier/workflow/test.toml", OK_TEMPLATE);
    repo.write(
        ".vizier/develop.toml",
        concat!(
            "id = \"template.develop\"\n",
            "version = \"v1\"\n",
            "[[imports]]\n",
            "name = \"build\"\n",
            "path = \"workflow/build.toml\"\n",
            "[[imports]]\n",
            "name = \"test\"\n",
            "path = \"workflow/test.toml\"\n",
            "[[links]]\n",
            "from = \"build\"\n",
            "to = \"tset\"\n",
        ),
    );
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    // The stage's own problem: in the imported file, at its `uses`.
    assert_span(
        &report,
        "command-contract",
        ".vizier/workflow/build.toml",
        (7, 8, 7, 35),
    );
    // The composition's problems: in the composing file, at the import path and the link end.
    assert_span(
        &report,
        "import-error",
        ".vizier/develop.toml",
        (5, 8, 5, 29),
    );
    let files = report["files"].as_array().unwrap();
    let ok_of = |path: &str| {
        files
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| f["ok"].as_bool().unwrap())
    };
    assert_eq!(ok_of(".vizier/develop.toml"), Some(false));
    assert_eq!(ok_of(".vizier/workflow/build.toml"), Some(false));
    assert_eq!(ok_of(".vizier/workflow/test.toml"), Some(true));

    // With the stage fixed, the link's unknown stage is reported at the link's `to` value.
    repo.write(".vizier/workflow/build.toml", OK_TEMPLATE);
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    assert_span(
        &report,
        "unknown-stage",
        ".vizier/develop.toml",
        (11, 6, 11, 12),
    );
    assert_eq!(diagnostics(&report)[0]["help"], "did you mean `test`?");
}

#[test]
fn json_output_has_exactly_the_fields_of_the_spec() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/bad.toml", BAD_TEMPLATE);
    repo.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    repo.write(".vizier/workflow/z.toml", "not toml at all =");
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&report),
        ["diagnostics", "errors", "files", "version", "warnings"]
    );
    assert_eq!(report["version"], 1);
    assert_eq!(report["errors"], 2);
    assert_eq!(report["warnings"], 0);
    assert_eq!(
        report["files"],
        serde_json::json!([
            { "path": ".vizier/workflow/bad.toml", "template_id": "template.bad", "ok": false },
            { "path": ".vizier/workflow/ok.toml", "template_id": "template.ok", "ok": true },
            { "path": ".vizier/workflow/z.toml", "template_id": null, "ok": false },
        ])
    );
    let d = &diagnostics(&report)[0];
    assert_eq!(
        keys(d),
        [
            "column",
            "end_column",
            "end_line",
            "help",
            "line",
            "message",
            "node",
            "path",
            "rule",
            "severity"
        ]
    );
    assert_eq!(
        *d,
        serde_json::json!({
            "rule": "unknown-uses",
            "severity": "error",
            "path": ".vizier/workflow/bad.toml",
            "line": 6,
            "column": 8,
            "end_line": 6,
            "end_column": 25,
            "node": "check",
            "message": "`my-custom-thing` is not a canonical `uses` label",
            "help": "custom commands are `cap.env.shell.command.run` nodes with `args.command`; there is no fallback for other labels",
        })
    );
    let syntax = &diagnostics(&report)[1];
    assert_eq!(syntax["rule"], "toml-syntax");
    assert_eq!(syntax["node"], Value::Null);
    assert_eq!(syntax["help"], Value::Null);

    // Warnings count separately and keep the exit code at 0.
    let repo = Repo::new();
    repo.write(
        ".vizier/workflow/w.toml",
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/err/unreachable-node.toml"),
        )
        .unwrap(),
    );
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(
        (code, &report["errors"], &report["warnings"]),
        (0, &0.into(), &1.into())
    );
    assert_eq!(diagnostics(&report)[0]["severity"], "warning");
}

#[test]
fn human_output_is_rustc_style_and_uncoloured_off_a_terminal() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/bad.toml", BAD_TEMPLATE);
    let expected = "\
error[unknown-uses]: `my-custom-thing` is not a canonical `uses` label (node `check`)
 --> .vizier/workflow/bad.toml:6:8
  |
6 | uses = \"my-custom-thing\"
  |        ^^^^^^^^^^^^^^^^^
  |
  = help: custom commands are `cap.env.shell.command.run` nodes with `args.command`; there is no fallback for other labels

failed: 1 error, 0 warnings in 1 file
";
    repo.vizier()
        .arg("validate")
        .assert()
        .code(1)
        .stdout(expected)
        .stderr("");
    // Not a terminal: no colour even when NO_COLOR is unset.
    repo.vizier()
        .arg("validate")
        .env_remove("NO_COLOR")
        .assert()
        .code(1)
        .stdout(expected);
}

#[test]
fn github_output_is_one_escaped_workflow_command_per_diagnostic() {
    let repo = Repo::new();
    // A file name with `,` and `:` and a label with `%` must not break the command's syntax.
    repo.write(
        ".vizier/workflow/a,b:c.toml",
        "id = \"t\"\nversion = \"v1\"\n[[nodes]]\nid = \"n\"\nuses = \"100%\"\n",
    );
    repo.write(".vizier/workflow/bad.toml", BAD_TEMPLATE);
    repo.write(
        ".vizier/workflow/warn.toml",
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/err/unreachable-node.toml"),
        )
        .unwrap(),
    );
    let out = repo
        .vizier()
        .args(["validate", "--format", "github"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let shape = predicate::str::is_match(
        r"^::(error|warning) file=[^,:]+,line=[1-9][0-9]*,col=[1-9][0-9]*,title=vizier\([a-z-]+\)::[^\r\n]+$",
    )
    .unwrap();
    for line in &lines {
        assert!(shape.eval(line), "{line}");
    }
    assert_eq!(
        lines[0],
        "::error file=.vizier/workflow/a%2Cb%3Ac.toml,line=5,col=8,title=vizier(unknown-uses)::`100%25` is not a canonical `uses` label (node `n`)%0Ahelp: custom commands are `cap.env.shell.command.run` nodes with `args.command`; there is no fallback for other labels"
    );
    assert!(lines[1].starts_with(
        "::error file=.vizier/workflow/bad.toml,line=6,col=8,title=vizier(unknown-uses)::`my-custom-thing`"
    ));
    assert!(lines[2].starts_with(
        "::warning file=.vizier/workflow/warn.toml,line=10,col=19,title=vizier(unreachable-node)::"
    ));
}

/// Files whose findings used to depend on the order of a hash set, spread over several files.
fn write_many_findings(repo: &Repo) {
    for (name, text) in [
        ("c", BAD_TEMPLATE.to_owned()),
        (
            "a",
            // `${aa}` is one edit away from three declared params; the suggestion must not depend on
            // the order a hash set hands them out in.
            "id = \"a\"\nversion = \"v1\"\n[params]\nad = \"1\"\nac = \"2\"\nab = \"3\"\n\
             [[nodes]]\nid = \"n\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\n\
             args = { command = \"${aa} ${ba} ${ca}\" }\nafter = [\"x\", \"y\"]\n"
                .to_owned(),
        ),
        ("b", "id = \"b\"\nversion = [\n".to_owned()),
        ("d", "version = \"v1\"\nnodes = 3\n".to_owned()),
    ] {
        repo.write(&format!(".vizier/workflow/{name}.toml"), &text);
    }
}

#[test]
fn output_is_byte_identical_across_runs_and_path_orders() {
    let repo = Repo::new();
    write_many_findings(&repo);
    let orders: [&[&str]; 4] = [
        &[],
        &[
            ".vizier/workflow/a.toml",
            ".vizier/workflow/b.toml",
            ".vizier/workflow/c.toml",
            ".vizier/workflow/d.toml",
        ],
        &[
            ".vizier/workflow/d.toml",
            "./.vizier/workflow/c.toml",
            ".vizier/workflow/b.toml",
            ".vizier/workflow/../workflow/a.toml",
            ".vizier/workflow/c.toml",
        ],
        &[".vizier/workflow"],
    ];
    for format in ["human", "json", "github"] {
        let mut outputs = Vec::new();
        for order in orders {
            // Several runs each: every process gets a fresh hash seed.
            for _ in 0..4 {
                let out = repo
                    .vizier()
                    .args(["validate", "--format", format])
                    .args(order)
                    .output()
                    .unwrap();
                assert_eq!(out.status.code(), Some(1));
                outputs.push(out.stdout);
            }
        }
        assert!(
            outputs.windows(2).all(|w| w[0] == w[1]),
            "{format} output differs between runs:\n{}",
            outputs
                .iter()
                .map(|o| String::from_utf8_lossy(o).into_owned())
                .collect::<Vec<_>>()
                .join("\n-----\n")
        );
        if format == "human" {
            let text = String::from_utf8_lossy(&outputs[0]);
            assert!(text.contains("help: did you mean `ab`?"), "{text}");
        }
    }
}

#[test]
fn staged_reads_the_index_not_the_work_tree() {
    let repo = Repo::new();
    // Valid staged, invalid unstaged: the commit being made is fine.
    repo.write(".vizier/workflow/t.toml", OK_TEMPLATE);
    repo.git(&["add", "-A"]);
    repo.write(".vizier/workflow/t.toml", BAD_TEMPLATE);
    repo.write(".vizier/workflow/untracked.toml", BAD_TEMPLATE);
    repo.vizier()
        .args(["validate", "--staged"])
        .assert()
        .code(0)
        .stdout("ok: 1 file valid\n");
    repo.vizier().arg("validate").assert().code(1);

    // Invalid staged, valid unstaged: the commit would carry the broken file.
    repo.git(&["add", ".vizier/workflow/t.toml"]);
    repo.write(".vizier/workflow/t.toml", OK_TEMPLATE);
    repo.write(".vizier/workflow/untracked.toml", OK_TEMPLATE);
    let out = repo
        .vizier()
        .args(["validate", "--staged"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    // The source line shown is the staged one.
    assert!(text.contains("6 | uses = \"my-custom-thing\""), "{text}");
    repo.vizier().arg("validate").assert().code(0);

    // Explicit files and folders are read from the index too.
    repo.vizier()
        .args(["validate", "--staged", ".vizier/workflow/t.toml"])
        .assert()
        .code(1);
    repo.vizier()
        .args(["validate", "--staged", ".vizier/workflow"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("in 1 file\n"));
    repo.vizier()
        .args(["validate", "--staged", ".vizier/workflow/untracked.toml"])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("untracked.toml").and(predicate::str::contains("git index")),
        );
}

#[test]
fn rev_reads_a_commits_tree() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/t.toml", OK_TEMPLATE);
    repo.commit_all("good");
    repo.write(".vizier/workflow/t.toml", BAD_TEMPLATE);
    repo.write(".vizier/workflow/new.toml", OK_TEMPLATE);
    repo.commit_all("bad");
    repo.write(".vizier/workflow/t.toml", "work tree = [");

    repo.vizier()
        .args(["validate", "--rev", "HEAD~1"])
        .assert()
        .code(0)
        .stdout("ok: 1 file valid\n");
    repo.vizier()
        .args(["validate", "--rev", "HEAD", "--format", "json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"rule\": \"unknown-uses\""))
        .stdout(predicate::str::contains("toml-syntax").not());
    let sha = repo.git(&["rev-parse", "HEAD~1"]);
    repo.vizier()
        .args(["validate", "--rev", sha.trim(), ".vizier/workflow"])
        .assert()
        .code(0);
    // A file the commit does not hold is named.
    repo.vizier()
        .args(["validate", "--rev", "HEAD~1", ".vizier/workflow/new.toml"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(".vizier/workflow/new.toml"));
    repo.vizier()
        .args(["validate", "--rev", "no-such-rev"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no-such-rev"));
}

#[test]
fn staged_and_rev_read_git_in_process() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/t.toml", OK_TEMPLATE);
    repo.commit_all("good");
    repo.write(".vizier/workflow/t.toml", BAD_TEMPLATE);
    repo.git(&["add", "-A"]);
    // No `git` program to be found: both still work.
    for (args, code) in [(&["--staged"][..], 1), (&["--rev", "HEAD"][..], 0)] {
        repo.vizier()
            .arg("validate")
            .args(args)
            .env("PATH", "/nonexistent")
            .assert()
            .code(code);
    }
}

#[test]
fn a_repository_without_vizier_says_so_and_exits_2() {
    let repo = Repo::new();
    repo.vizier()
        .arg("validate")
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("no `.vizier/` folder")
                .and(predicate::str::contains("vizier init")),
        );
    // A `.vizier/` with no templates in it is not mistaken for a missing one.
    repo.write(".vizier/notes.txt", "");
    repo.vizier()
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no templates"));
    // Not a git repository at all.
    let dir = Repo::bare_dir();
    dir.vizier()
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no `.vizier/` folder"));
}

#[test]
fn an_unreadable_file_is_named_and_exits_3() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    // Bytes that are not UTF-8 are the file's content, not an operational failure: a `toml-syntax`
    // finding naming the file (exit 1), with the other files still checked.
    std::fs::write(
        repo.join(".vizier/workflow/latin1.toml"),
        b"id = \"caf\xe9\"\n",
    )
    .unwrap();
    repo.vizier()
        .arg("validate")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[toml-syntax]"))
        .stdout(predicate::str::contains(".vizier/workflow/latin1.toml"));
    std::fs::remove_file(repo.join(".vizier/workflow/latin1.toml")).unwrap();

    // A path given explicitly that does not exist.
    repo.vizier()
        .args(["validate", ".vizier/workflow/missing.toml"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(".vizier/workflow/missing.toml"));
    // A link that leads out of the repository is refused, not followed.
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), OK_TEMPLATE).unwrap();
    symlink(outside.path(), repo.join(".vizier/workflow/escape.toml")).unwrap();
    repo.vizier().arg("validate").assert().code(3).stderr(
        predicate::str::contains("escape.toml")
            .and(predicate::str::contains("leaves the repository")),
    );
    std::fs::remove_file(repo.join(".vizier/workflow/escape.toml")).unwrap();
    // A path outside the repository is validated like any other (a linter checks what it is given).
    repo.vizier()
        .args(["validate", outside.path().to_str().unwrap()])
        .assert()
        .code(0);
    // `--staged` outside a git repository.
    let dir = Repo::bare_dir();
    dir.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    dir.vizier()
        .args(["validate", "--staged"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not inside a git repository"));
}

#[test]
fn usage_errors_exit_2() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    for args in [
        &["validate", "--format", "xml"][..],
        &["validate", "--staged", "--rev", "HEAD"],
        &["validate", "--no-such-flag"],
        &["no-such-command"],
        &["completions", "tcsh"],
    ] {
        repo.vizier()
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::is_empty().not());
    }
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let repo = Repo::new();
    let mut text = String::from("id = \"t\"\nversion = \"v1\"\n");
    for i in 0..2000 {
        text.push_str(&format!("[[nodes]]\nid = \"n{i}\"\nuses = \"nope\"\n"));
    }
    repo.write(".vizier/workflow/t.toml", &text);
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(repo.path()).arg("validate");
    isolate(&mut cmd, repo.home.path());
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// `cd repo && vizier validate /elsewhere/x.toml` refused the file ("outside the repository", exit
/// 2). A linter checks any file it is given: its findings, in every format, exit 0 / 1. Only what a
/// template names (an import) is confined: to the repository holding the file, else its own folder.
#[test]
fn a_file_outside_the_repository_is_validated_not_refused() {
    let repo = repo_with("ok", OK_TEMPLATE);
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = elsewhere.path().canonicalize().unwrap();
    let bad = dir.join("loose/bad.toml");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, BAD_TEMPLATE).unwrap();
    let bad = bad.to_str().unwrap();

    let out = repo.vizier().args(["validate", bad]).assert().code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("error[unknown-uses]"), "{stdout}");
    assert!(stdout.contains(&format!("--> {bad}:6:8")), "{stdout}");
    let (code, report) = json_report(&repo, &[bad]);
    assert_eq!(code, 1);
    assert_eq!(
        places(&report),
        vec![("unknown-uses".to_owned(), "check".to_owned(), 6, 8)]
    );
    assert_eq!(diagnostics(&report)[0]["path"], bad);
    repo.vizier()
        .args(["validate", "--format", "github", bad])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "::error file={bad},line=6,col=8"
        )));
    // A relative path that leads out of the repository, and a folder outside it.
    let relative = pathdiff(
        &dir.join("loose/bad.toml"),
        &repo.path().canonicalize().unwrap(),
    );
    repo.vizier().args(["validate", &relative]).assert().code(1);
    repo.vizier()
        .args(["validate", dir.join("loose").to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("unknown-uses"));

    // A clean file outside, with the repository's own templates alongside: exit 0.
    let ok = dir.join("loose/ok.toml");
    std::fs::write(&ok, OK_TEMPLATE).unwrap();
    repo.vizier()
        .args(["validate", ok.to_str().unwrap(), ".vizier/workflow/ok.toml"])
        .assert()
        .code(0);

    // What a loose file imports stays in its own folder.
    let composing = |import: &str| {
        format!(
            "id = \"template.c\"\nversion = \"v1\"\n[[imports]]\nname = \"a\"\npath = \"{import}\"\n"
        )
    };
    let importer = dir.join("loose/compose.toml");
    std::fs::write(&importer, composing("ok.toml")).unwrap();
    repo.vizier()
        .args(["validate", importer.to_str().unwrap()])
        .assert()
        .code(0);
    std::fs::write(dir.join("secret.toml"), OK_TEMPLATE).unwrap();
    std::fs::write(&importer, composing("../secret.toml")).unwrap();
    repo.vizier()
        .args(["validate", importer.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("import-error"));

    // A file in another repository is confined to that repository, so it may import across folders.
    let other = Repo::new();
    other.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    other.write(".vizier/develop.toml", &composing("workflow/ok.toml"));
    other.write(
        "deep/compose.toml",
        &composing("../.vizier/workflow/ok.toml"),
    );
    for file in [".vizier/develop.toml", "deep/compose.toml"] {
        repo.vizier()
            .args(["validate", other.join(file).to_str().unwrap()])
            .assert()
            .code(0);
    }
}

/// `target` relative to `base` (both absolute), with `..` steps.
fn pathdiff(target: &std::path::Path, base: &std::path::Path) -> String {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out: Vec<String> = vec!["..".to_owned(); b.len() - common];
    out.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    out.join("/")
}

/// A `needs` entry that no node produces validated clean, and `vizier run` then ended the run
/// `blocked_by_dependency`. It is a `missing-producer` error at the entry, and nothing runs.
#[test]
fn a_need_that_no_node_produces_is_refused_before_the_run_blocks() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/err/missing-producer.toml"),
    )
    .unwrap();
    let repo = repo_with("publish", &template);
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        places(&report),
        vec![("missing-producer".to_owned(), "publish".to_owned(), 21, 33)]
    );
    repo.vizier()
        .args(["run", "publish"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[missing-producer]"));
    assert!(
        !repo.join(".vizier/jobs/runs").exists()
            || std::fs::read_dir(repo.join(".vizier/jobs/runs"))
                .unwrap()
                .count()
                == 0,
        "no run was written"
    );
}

/// In a composition the producer may be another stage or the composing file's own node; a need no
/// stage produces is reported where it is written.
#[test]
fn missing_producer_looks_across_the_stages_of_a_composition() {
    let stage = |id: &str, extra: &str| {
        format!(
            "id = \"template.{id}\"\nversion = \"v1\"\n[[artifact_contracts]]\nid = \"report\"\nversion = \"v1\"\n[[nodes]]\nid = \"work\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = {{ command = \"true\" }}\n{extra}"
        )
    };
    let repo = Repo::new();
    repo.write(
        ".vizier/workflow/a.toml",
        &stage(
            "a",
            "produces = { succeeded = [{ custom = { type_id = \"report\", key = \"a\" } }] }\n",
        ),
    );
    repo.write(".vizier/workflow/b.toml", &stage("b", ""));
    let composition = |need: &str| {
        format!(
            "id = \"template.c\"\nversion = \"v1\"\n[[artifact_contracts]]\nid = \"report\"\nversion = \"v1\"\n[[imports]]\nname = \"a\"\npath = \"workflow/a.toml\"\n[[imports]]\nname = \"b\"\npath = \"workflow/b.toml\"\n[[links]]\nfrom = \"a\"\nto = \"b\"\n[[nodes]]\nid = \"publish\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = {{ command = \"true\" }}\nneeds = [{{ custom = {{ type_id = \"report\", key = \"{need}\" }} }}]\n"
        )
    };
    repo.write(".vizier/develop.toml", &composition("a"));
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 0, "{report}");
    repo.write(".vizier/develop.toml", &composition("nobody"));
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        places(&report),
        vec![("missing-producer".to_owned(), "publish".to_owned(), 20, 33)]
    );
    assert_eq!(diagnostics(&report)[0]["path"], ".vizier/develop.toml");
}

/// A lock key's `${name}` is substituted, so an undeclared name there is `undeclared-param`.
#[test]
fn an_undeclared_param_in_a_lock_key_is_reported() {
    let template = "id = \"t\"\nversion = \"v1\"\n[params]\nbranch = \"main\"\n[[nodes]]\nid = \"n\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\nargs = { command = \"true\" }\nlocks = [{ key = \"branch:${brnch}\" }]\n";
    let repo = repo_with("t", template);
    let (code, report) = json_report(&repo, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        places(&report),
        vec![("undeclared-param".to_owned(), "n".to_owned(), 10, 18)]
    );
    assert_eq!(diagnostics(&report)[0]["help"], "did you mean `branch`?");
}
