//! Validation input built to hurt: params that double, diamond imports, long param chains, masses
//! of dangling references, files that are not UTF-8. Each is answered with findings, in time
//! linear in the input (speed itself is measured by `scripts/bench/bombs.sh`; the timeouts here
//! only turn a hang into a failure).

use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

const NODE: &str =
    "[[nodes]]\nid = \"a\"\nkind = \"shell\"\nuses = \"cap.env.shell.command.run\"\n";

fn json(repo: &Repo, path: &str, code: i32) -> Value {
    let out = repo
        .vizier()
        .args(["validate", "--format", "json", path])
        .timeout(Duration::from_secs(120))
        .assert()
        .code(code);
    serde_json::from_slice(&out.get_output().stdout).expect("one JSON object")
}

#[test]
fn params_that_double_are_refused_at_the_param_that_overflows() {
    let mut t = String::from("id = \"t\"\nversion = \"v1\"\n[params]\np0 = \"xxxxxxxxxxxxxxxx\"\n");
    for i in 1..=40 {
        t.push_str(&format!("p{i} = \"${{p{}}}${{p{}}}\"\n", i - 1, i - 1));
    }
    t.push_str(NODE);
    t.push_str("args = { command = \"echo ${p40}\" }\n");
    let repo = repo_with("ci", &t);
    let report = json(&repo, ".vizier/workflow/ci.toml", 1);
    let d = &report["diagnostics"][0];
    assert_eq!(d["rule"], "invalid-field", "{report}");
    // 16 bytes doubled 17 times is the first value past 1 MiB: p17, on line 21.
    assert!(d["message"].as_str().unwrap().contains("`p17`"), "{d}");
    assert_eq!(d["line"], 21);
    // `vizier run` refuses it the same way instead of aborting on an allocation.
    repo.vizier()
        .args(["run", "ci"])
        .timeout(Duration::from_secs(120))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("invalid-field"));
}

#[test]
fn diamond_imports_are_capped_not_exponential() {
    let repo = Repo::new();
    let depth = 20;
    for k in 0..depth {
        let (path, next) = if k == 0 {
            (
                ".vizier/workflow/top.toml".to_owned(),
                "d/f1.toml".to_owned(),
            )
        } else {
            (
                format!(".vizier/workflow/d/f{k}.toml"),
                format!("f{}.toml", k + 1),
            )
        };
        repo.write(
            &path,
            &format!(
                "id = \"t{k}\"\nversion = \"v1\"\n[[imports]]\nname = \"l\"\npath = \"{next}\"\n[[imports]]\nname = \"r\"\npath = \"{next}\"\n"
            ),
        );
    }
    repo.write(
        &format!(".vizier/workflow/d/f{depth}.toml"),
        &format!("id = \"leaf\"\nversion = \"v1\"\n{NODE}args = {{ command = \"true\" }}\n"),
    );
    let report = json(&repo, ".vizier/workflow/top.toml", 1);
    let capped: Vec<&Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["rule"] == "import-error" && d["message"].as_str().unwrap().contains("10000 nodes")
        })
        .collect();
    // 2^14 = 16384 nodes: the file that imports two copies of 8192 crosses the cap.
    assert_eq!(capped.len(), 1, "{report}");
    assert_eq!(capped[0]["path"], ".vizier/workflow/d/f6.toml");
}

#[test]
fn a_long_param_chain_validates_and_runs() {
    let mut t = String::from("id = \"t\"\nversion = \"v1\"\n[params]\np0 = \"end\"\n");
    let n = 20_000;
    for i in 1..n {
        t.push_str(&format!("p{i} = \"${{p{}}}\"\n", i - 1));
    }
    t.push_str(NODE);
    t.push_str(&format!(
        "args = {{ command = \"echo ${{p{}}} > out.txt\" }}\n",
        n - 1
    ));
    let repo = repo_with("ci", &t);
    let report = json(&repo, ".vizier/workflow/ci.toml", 0);
    assert_eq!(report["errors"], 0);
    repo.vizier()
        .args(["run", "ci"])
        .timeout(Duration::from_secs(120))
        .assert()
        .code(0);
    assert_eq!(repo.read("out.txt"), "end\n");
}

#[test]
fn masses_of_dangling_refs_are_all_reported() {
    let n = 50_000;
    let refs: Vec<String> = (0..n)
        .map(|i| format!("{{ node_id = \"m{i}\" }}"))
        .collect();
    let t = format!(
        "id = \"t\"\nversion = \"v1\"\n{NODE}args = {{ command = \"true\" }}\nafter = [{}]\n",
        refs.join(", ")
    );
    let repo = repo_with("ci", &t);
    let report = json(&repo, ".vizier/workflow/ci.toml", 1);
    assert_eq!(report["errors"], n);
    let last = &report["diagnostics"][n - 1];
    assert_eq!(last["rule"], "unknown-node-ref");
    // Columns are still exact on the long line.
    let line = t.lines().nth(7).unwrap();
    let col = line.find(&format!("\"m{}\"", n - 1)).unwrap() + 1;
    assert_eq!(last["column"], col, "{last}");
    // The human renderer shows a window of the long line, at the true column.
    repo.vizier()
        .args(["validate", ".vizier/workflow/ci.toml"])
        .timeout(Duration::from_secs(120))
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "--> .vizier/workflow/ci.toml:8:{col}"
        )));
}

#[test]
fn a_file_that_is_not_utf8_is_a_finding_and_the_others_are_still_checked() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ok.toml", BAD_TEMPLATE);
    std::fs::write(
        repo.join(".vizier/workflow/latin1.toml"),
        b"id = \"caf\xe9\"\nversion = \"v1\"\n",
    )
    .unwrap();
    let out = repo
        .vizier()
        .args(["validate", "--format", "json"])
        .assert()
        .code(1);
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rules: Vec<(&str, &str)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["path"].as_str().unwrap(), d["rule"].as_str().unwrap()))
        .collect();
    assert!(
        rules.contains(&(".vizier/workflow/latin1.toml", "toml-syntax")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&(".vizier/workflow/ok.toml", "unknown-uses")),
        "{rules:?}"
    );
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&".vizier/workflow/latin1.toml"), "{files:?}");
}

#[test]
fn paths_leaving_the_repository_are_reported_at_validation() {
    let t = r#"id = "t"
version = "v1"

[[artifact_contracts]]
id = "prompt_text"
version = "v1"

[[nodes]]
id = "prompt"
uses = "cap.env.builtin.prompt.resolve"
args = { prompt_file = "../secret/prompt.md" }
produces = { succeeded = [{ custom = { type_id = "prompt_text", key = "main" } }] }

[[nodes]]
id = "plan"
uses = "cap.env.builtin.plan.persist"
args = { spec_file = "/etc/passwd", slug = "s" }

[[nodes]]
id = "patches"
uses = "cap.env.builtin.patch.pipeline_prepare"
args = { files = '["ok.patch", "a/../../b.patch"]' }

[[nodes]]
id = "fine"
uses = "cap.env.builtin.plan.persist"
args = { spec_file = "docs/${name}.md", slug = "s" }

[params]
name = "x"
"#;
    let repo = repo_with("ci", t);
    let report = json(&repo, ".vizier/workflow/ci.toml", 1);
    let found: Vec<(String, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule"] == "invalid-field")
        .map(|d| {
            (
                d["node"].as_str().unwrap_or("").to_owned(),
                d["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let nodes: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(nodes, ["prompt", "plan", "patches"], "{report}");
    assert!(found[0].1.contains("`..` part"));
    assert!(found[1].1.contains("absolute"));
    assert!(found[2].1.contains("a/../../b.patch"));
    // Whether the outside path exists is never said.
    for (_, message) in &found {
        assert!(!message.contains("exist"), "{message}");
    }
}
