//! The run id's sequence number: the first free one in this store, found from a note of where the
//! last run's probe ended (`plans/.next-<first run id>`) instead of one hash per earlier run.

use serde_json::Value;

use crate::support::*;

const ONE: &str = r#"id = "t"
version = "v1"

[[nodes]]
id = "a"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "true" }
"#;

fn ids(repo: &Repo) -> Vec<String> {
    manifests(repo)
        .iter()
        .map(|m| m["run_id"].as_str().unwrap().to_owned())
        .collect()
}

fn dry_run_id(repo: &Repo) -> String {
    let out = repo
        .vizier()
        .args(["run", "ci", "--dry-run", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["run_id"].as_str().unwrap().to_owned()
}

#[test]
fn gc_frees_the_sequence_numbers_a_note_skips() {
    let repo = repo_with("ci", ONE);
    for _ in 0..3 {
        repo.vizier().args(["run", "ci"]).assert().code(0);
    }
    let first = ids(&repo);
    assert_eq!(first.len(), 3);
    let note = repo.join(&format!(".vizier/jobs/plans/.next-{}", first[0]));
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "2");
    let fourth = dry_run_id(&repo);
    assert!(!first.contains(&fourth));
    repo.vizier()
        .args(["jobs", "gc", "--keep", "0"])
        .assert()
        .code(0);
    assert!(!note.exists(), "gc removes the notes");
    // The store is empty again: the next run takes the first sequence number, as in a clone.
    assert_eq!(dry_run_id(&repo), first[0]);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    assert_eq!(ids(&repo), [first[0].clone()]);
}

#[test]
fn a_torn_or_missing_note_falls_back_to_the_listing() {
    let repo = repo_with("ci", ONE);
    for _ in 0..2 {
        repo.vizier().args(["run", "ci"]).assert().code(0);
    }
    let before = ids(&repo);
    let note = repo.join(&format!(".vizier/jobs/plans/.next-{}", before[0]));
    std::fs::write(&note, "\0\0").unwrap();
    repo.vizier().args(["run", "ci"]).assert().code(0);
    std::fs::remove_file(&note).unwrap();
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let after = ids(&repo);
    assert_eq!(after.len(), 4);
    let mut unique = after.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "every run got a free id: {after:?}");
    assert_eq!(after[..2], before[..]);
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "3");
}

#[test]
fn a_hand_edited_note_cannot_push_a_run_past_a_free_sequence_number() {
    let repo = repo_with("ci", ONE);
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let first = ids(&repo);
    let second = dry_run_id(&repo);
    let note = repo.join(&format!(".vizier/jobs/plans/.next-{}", first[0]));
    // A note claiming far more runs than the store holds, and one at the top of the range.
    for claim in ["5000", "18446744073709551615"] {
        std::fs::write(&note, claim).unwrap();
        assert_eq!(
            dry_run_id(&repo),
            second,
            "a note of {claim} skipped the free sequence number 1"
        );
    }
    repo.vizier().args(["run", "ci"]).assert().code(0);
    let mut after = ids(&repo);
    after.sort();
    let mut expected = vec![first[0].clone(), second];
    expected.sort();
    assert_eq!(after, expected);
}
