//! `vizier init` and `vizier init --check` on real repositories.

use std::path::Path;

use predicates::prelude::*;

use crate::support::*;

const FILES: [&str; 6] = [
    ".vizier/config.toml",
    ".vizier/workflow/draft.toml",
    ".vizier/workflow/approve.toml",
    ".vizier/workflow/merge.toml",
    ".vizier/workflow/ci.toml",
    ".vizier/develop.toml",
];

const RULES: [&str; 4] = [
    ".vizier/jobs/",
    ".vizier/tmp/",
    ".vizier/tmp-worktrees/",
    ".vizier/artifacts/",
];

/// Every file in the repository (outside `.git`), with its content, sorted.
fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap() == ".git" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The backups `--force` left in `.vizier/workflow/`, sorted.
fn backups(repo: &Repo) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join(".vizier/workflow"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".bak-"))
        .collect();
    names.sort();
    names
}

#[test]
fn init_scaffolds_a_fresh_repository_that_validates() {
    let repo = Repo::new();
    repo.write(".gitignore", "target\n");
    repo.vizier()
        .arg("init")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("created    .vizier/config.toml"))
        .stdout(predicate::str::contains(
            "updated    .gitignore (added .vizier/jobs/, .vizier/tmp/, .vizier/tmp-worktrees/, .vizier/artifacts/)",
        ));
    for file in FILES {
        assert!(repo.join(file).is_file(), "{file}");
    }
    let config = repo.read(".vizier/config.toml");
    assert!(config.contains("# [agent]\n# command = ["), "{config}");
    let ignore = repo.read(".gitignore");
    assert!(ignore.starts_with("target\n"), "{ignore}");
    for rule in RULES {
        assert_eq!(ignore.lines().filter(|l| *l == rule).count(), 1, "{ignore}");
    }
    // The scaffold is valid, and git ignores what runs will write.
    repo.vizier()
        .arg("validate")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("6 files valid"));
    repo.write(".vizier/jobs/x/job.json", "{}");
    repo.write(".vizier/tmp-worktrees/w/file", "");
    repo.write(".vizier/artifacts/summary.md", "");
    let status = repo.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains(".vizier/jobs"), "{status}");
    assert!(!status.contains(".vizier/artifacts"), "{status}");
    assert!(!status.contains(".vizier/tmp-worktrees"), "{status}");
    assert!(status.contains(".vizier/workflow/draft.toml"), "{status}");
}

#[test]
fn init_works_from_a_subfolder_and_without_a_gitignore() {
    let repo = Repo::new();
    std::fs::create_dir_all(repo.join("src/deep")).unwrap();
    repo.vizier()
        .current_dir(repo.join("src/deep"))
        .arg("init")
        .assert()
        .code(0);
    assert!(repo.join(".vizier/workflow/merge.toml").is_file());
    assert!(!repo.join("src/deep/.vizier").exists());
    let ignore = repo.read(".gitignore");
    assert_eq!(
        ignore,
        "# vizier: job records, scratch files, worktrees and CI artifacts\n.vizier/jobs/\n.vizier/tmp/\n.vizier/tmp-worktrees/\n.vizier/artifacts/\n"
    );
}

#[test]
fn init_twice_changes_nothing() {
    let repo = Repo::new();
    repo.vizier().arg("init").assert().code(0);
    let before = snapshot(repo.path());
    repo.vizier()
        .arg("init")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "already initialized; nothing to do",
        ))
        .stdout(predicate::str::contains("created").not());
    assert_eq!(snapshot(repo.path()), before);
}

#[test]
fn init_never_overwrites_a_persons_files_and_only_adds_missing_rules() {
    let repo = Repo::new();
    let mine = "# my own draft\nid = \"mine\"\n";
    repo.write(".vizier/workflow/draft.toml", mine);
    // Two of the rules already there, spelled differently; no newline at the end.
    repo.write(".gitignore", "/.vizier/jobs\n.vizier/tmp/\nnode_modules");
    repo.vizier()
        .arg("init")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "kept       .vizier/workflow/draft.toml (yours differs from the scaffold",
        ))
        .stdout(predicate::str::contains(
            "updated    .gitignore (added .vizier/tmp-worktrees/, .vizier/artifacts/)",
        ));
    assert_eq!(repo.read(".vizier/workflow/draft.toml"), mine);
    assert_eq!(
        repo.read(".gitignore"),
        "/.vizier/jobs\n.vizier/tmp/\nnode_modules\n# vizier: job records, scratch files, worktrees and CI artifacts\n.vizier/tmp-worktrees/\n.vizier/artifacts/\n"
    );
    assert!(repo.join(".vizier/workflow/approve.toml").is_file());
    assert_eq!(backups(&repo), Vec::<String>::new());
}

#[test]
fn init_force_replaces_changed_files_and_keeps_a_backup() {
    let repo = Repo::new();
    repo.vizier().arg("init").assert().code(0);
    let scaffold = repo.read(".vizier/workflow/merge.toml");
    let mine = "# tuned by hand\n";
    repo.write(".vizier/workflow/merge.toml", mine);
    let out = repo.vizier().args(["init", "--force"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("replaced   .vizier/workflow/merge.toml (the old one is .vizier/workflow/merge.toml.bak-"), "{stdout}");
    // Unchanged files are not replaced (and get no backup).
    assert!(
        stdout.contains("unchanged  .vizier/workflow/draft.toml"),
        "{stdout}"
    );
    assert_eq!(repo.read(".vizier/workflow/merge.toml"), scaffold);
    let made = backups(&repo);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].starts_with("merge.toml.bak-"), "{made:?}");
    assert_eq!(repo.read(&format!(".vizier/workflow/{}", made[0])), mine);
    // A second force with nothing changed makes no further backup.
    repo.vizier().args(["init", "--force"]).assert().code(0);
    assert_eq!(backups(&repo), made);
    // Backups are not templates: the default file set still validates.
    repo.vizier().arg("validate").assert().code(0);
}

#[test]
fn init_check_reports_what_is_missing_and_writes_nothing() {
    let repo = Repo::new();
    repo.write(".gitignore", ".vizier/jobs/\n");
    let before = snapshot(repo.path());
    repo.vizier()
        .args(["init", "--check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("missing    .vizier/config.toml"))
        .stdout(predicate::str::contains(
            "missing    .vizier/workflow/ci.toml",
        ))
        .stdout(predicate::str::contains(
            "missing    .gitignore rules: .vizier/tmp/, .vizier/tmp-worktrees/, .vizier/artifacts/",
        ))
        .stdout(predicate::str::contains("missing    .ci/run"))
        .stdout(predicate::str::contains("incomplete: 10 missing"));
    assert_eq!(snapshot(repo.path()), before);

    repo.vizier().arg("init").assert().code(0);
    repo.write(".vizier/workflow/ci.toml", "# mine\n");
    let before = snapshot(repo.path());
    repo.vizier()
        .args(["init", "--check"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "ok         .vizier/workflow/ci.toml (customized)",
        ))
        .stdout(predicate::str::contains("complete"));
    assert_eq!(snapshot(repo.path()), before);

    std::fs::remove_file(repo.join(".vizier/workflow/approve.toml")).unwrap();
    repo.vizier()
        .args(["init", "--check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "missing    .vizier/workflow/approve.toml",
        ))
        .stdout(predicate::str::contains("incomplete: 1 missing"));

    repo.vizier()
        .args(["init", "--check", "--force"])
        .assert()
        .code(2);
}

#[test]
fn init_outside_a_git_repository_fails() {
    let dir = Repo::bare_dir();
    dir.vizier()
        .arg("init")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("is not inside a git repository"));
    assert!(!dir.join(".vizier").exists());
}

#[test]
fn init_refuses_a_vizier_folder_that_links_out_of_the_repository() {
    let repo = Repo::new();
    let outside = repo.home.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, repo.join(".vizier")).unwrap();
    repo.vizier()
        .arg("init")
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "`.vizier` leaves the repository root",
        ));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

/// The scaffold's `draft`, `approve` and `merge` are this repository's own templates; its `ci` is a
/// generic one (this repository's runs cargo), and every file validates.
#[test]
fn the_scaffold_matches_this_repositorys_templates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["draft", "approve", "merge"] {
        let ours = std::fs::read_to_string(root.join(format!(".vizier/workflow/{name}.toml")));
        let scaffold =
            std::fs::read_to_string(root.join(format!("src/init/templates/{name}.toml")));
        assert_eq!(
            scaffold.unwrap(),
            ours.unwrap(),
            "src/init/templates/{name}.toml differs from .vizier/workflow/{name}.toml"
        );
    }
    assert_eq!(
        std::fs::read_to_string(root.join("src/init/templates/develop.toml")).unwrap(),
        std::fs::read_to_string(root.join(".vizier/develop.toml")).unwrap(),
        "src/init/templates/develop.toml differs from .vizier/develop.toml"
    );
    let repo = Repo::new();
    for file in vizier::init::FILES {
        repo.write(file.path, file.content);
    }
    repo.vizier()
        .arg("validate")
        .assert()
        .code(0)
        .stdout(predicates::str::contains("6 files valid"));
}

#[test]
fn the_scaffolds_first_ci_run_succeeds_and_names_the_script_to_write() {
    let repo = Repo::new();
    repo.vizier()
        .arg("init")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("created    .ci/run"))
        .stdout(predicate::str::contains(
            "note: .ci/run is a placeholder that passes; write your build and tests into it",
        ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(repo.join(".ci/run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{mode:o}");
    }
    repo.vizier()
        .args(["run", "ci"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("✔ check succeeded"));
    let log = std::fs::read_dir(repo.join(".vizier/jobs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with("-check"))
        .map(|e| std::fs::read_to_string(e.path().join("stdout.log")).unwrap())
        .unwrap();
    assert!(log.contains(".ci/run has no checks yet"), "{log}");
}

#[test]
fn init_keeps_an_existing_ci_script_even_under_force() {
    let repo = Repo::new();
    let mine = "#!/bin/sh\nmake check\n";
    repo.write(".ci/run", mine);
    repo.vizier().arg("init").assert().code(0);
    repo.vizier()
        .args(["init", "--force"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("unchanged  .ci/run"));
    assert_eq!(repo.read(".ci/run"), mine);
    repo.vizier()
        .args(["init", "--check"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ok         .ci/run (customized)"));
}
