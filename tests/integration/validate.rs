use predicates::prelude::*;

use crate::support::*;

#[test]
fn valid_repo_passes() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    repo.vizier()
        .arg("validate")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ok: 1 file valid"));
}
