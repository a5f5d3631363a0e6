//! Getting vizier onto a runner: the actions every workflow and the composite action use,
//! `scripts/package.sh` (the release asset recipe), and `ci/install-vizier.sh` installing that very
//! asset through a `file://` URL, or a cached build of the action's source.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use crate::ci_action::{FakeAction, lines, make_executable, os, root_file};
use crate::support::BIN;

// ---------------------------------------------------------------------------------------------
// `uses:` everywhere

/// The majors that run on node24 (node20 is being removed from GitHub's runners).
const NODE24_MAJORS: [&str; 7] = [
    "actions/checkout@v5",
    "actions/upload-artifact@v6",
    "actions/download-artifact@v7",
    "actions/cache@v5",
    "actions/cache/restore@v5",
    "actions/cache/save@v5",
    "actions/attest-build-provenance@v3",
];

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            out.push(path);
        }
    }
}

/// Every `uses:` value anywhere in a YAML document.
fn uses_values(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "uses" {
                    out.push(v.as_str().expect("`uses` is a string").to_owned());
                } else {
                    uses_values(v, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| uses_values(v, out)),
        _ => {}
    }
}

fn all_uses(files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", file.display()));
        let mut uses = Vec::new();
        uses_values(&doc, &mut uses);
        found.extend(uses.into_iter().map(|u| (file.clone(), u)));
    }
    found
}

/// A `uses:` that may stay: a local action, or one of the node24 majors.
fn allowed(uses: &str) -> bool {
    uses.starts_with("./") || NODE24_MAJORS.contains(&uses)
}

#[test]
fn every_uses_in_the_action_ci_and_github_folders_is_a_node24_major() {
    let mut files = vec![root_file("action.yml")];
    yaml_files(&root_file("ci"), &mut files);
    yaml_files(&root_file(".github"), &mut files);
    yaml_files(&root_file("tests/act/workflows"), &mut files);
    let found = all_uses(&files);
    // The act workflows name this repository's action the way a user's workflow would; act maps
    // the name to a local copy (tests/integration/ci_act.rs).
    let act_mapped = |f: &PathBuf, u: &str| {
        f.starts_with(root_file("tests/act")) && u == crate::ci_act::ACTION_UNDER_TEST
    };
    let bad: Vec<_> = found
        .iter()
        .filter(|(f, u)| !allowed(u) && !act_mapped(f, u))
        .collect();
    assert!(bad.is_empty(), "not a node24 major: {bad:?}");
    // The composite action (which actionlint does not read) is among what was checked.
    let in_action: Vec<_> = found
        .iter()
        .filter(|(f, _)| *f == root_file("action.yml"))
        .map(|(_, u)| u.as_str())
        .collect();
    assert_eq!(
        in_action,
        [
            "actions/cache/restore@v5",
            "actions/cache/save@v5",
            "actions/upload-artifact@v6"
        ],
        "{found:?}"
    );
    assert!(found.iter().any(|(_, u)| u == "actions/checkout@v5"));

    // The check itself catches an old major, in any nesting.
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.yml");
    std::fs::write(
        &old,
        "runs:\n  using: composite\n  steps:\n    - uses: actions/upload-artifact@v4\n",
    )
    .unwrap();
    let found = all_uses(&[old]);
    assert_eq!(found.len(), 1);
    assert!(!allowed(&found[0].1));
    assert!(!allowed("actions/checkout@main"), "a branch is no pin");
    assert!(!allowed("actions/checkout@v4"));
}

// ---------------------------------------------------------------------------------------------
// scripts/package.sh and the installer

/// The host's asset name as the installer picks it (it reads `uname`).
fn host_target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-musl",
        ("linux", "aarch64") => "aarch64-unknown-linux-musl",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        other => panic!("no release target for {other:?}"),
    }
}

fn version() -> String {
    let text = std::fs::read_to_string(root_file("Cargo.toml")).unwrap();
    let line = text.lines().find(|l| l.starts_with("version = ")).unwrap();
    line.trim_start_matches("version = ")
        .trim_matches('"')
        .to_owned()
}

/// Runs `scripts/package.sh` on the test's vizier binary (the build step is what the release
/// workflow adds); returns the archive and its `.sha256` line.
/// `scripts/package.sh ARGS` with the test binary as what it packages; its stdout, trimmed. Fails
/// the test when the script fails.
fn package_sh(args: &[&std::ffi::OsStr]) -> String {
    let run = StdCommand::new("sh")
        .arg(root_file("scripts/package.sh"))
        .args(args)
        .env("VIZIER_PACKAGE_BINARY", BIN)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).trim().to_owned()
}

fn package(out: &Path) -> (PathBuf, String) {
    let archive = PathBuf::from(package_sh(&[
        "--target".as_ref(),
        host_target().as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]));
    let asset = format!("vizier-{}-{}.tar.gz", version(), host_target());
    assert_eq!(archive, out.join(&asset));
    let sum = std::fs::read_to_string(out.join(format!("{asset}.sha256"))).unwrap();
    (archive, sum)
}

#[test]
fn package_sh_builds_by_default_the_asset_the_installer_downloads_for_this_host() {
    assert_eq!(package_sh(&["--print-target".as_ref()]), host_target());
    // On Linux that is the static musl build, whatever libc the host has.
    if std::env::consts::OS == "linux" {
        assert!(host_target().ends_with("-unknown-linux-musl"));
    }
}

#[test]
fn the_installer_installs_the_package_sh_tarball_from_a_file_url_only_under_its_pin() {
    let built = tempfile::tempdir().unwrap();
    let (archive, sum_line) = package(built.path());
    // The .sha256 line is `sha256sum` output: the pin line as it goes into release-checksums.txt.
    let (sum, asset) = sum_line.trim_end().split_once("  ").unwrap();
    assert_eq!(sum.len(), 64);
    assert_eq!(asset, archive.file_name().unwrap().to_str().unwrap());
    let listed = StdCommand::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "vizier\n");

    // A release folder laid out as GitHub serves it: <base>/v<version>/<asset>.
    let server = tempfile::tempdir().unwrap();
    let release = server.path().join(format!("v{}", version()));
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(&archive, release.join(asset)).unwrap();
    let url = os(format!("file://{}", server.path().display()));

    let action = FakeAction::new(&version(), &[(asset, sum.to_owned())]);
    let install_dir = tempfile::tempdir().unwrap();
    let out = action.install(&[
        ("VIZIER_VERSION", &os(format!("v{}", version()))),
        ("VIZIER_RELEASE_URL", &url),
        ("VIZIER_INSTALL_DIR", &os(install_dir.path())),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = install_dir.path().join("vizier");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        bin.to_str().unwrap()
    );
    let ran = StdCommand::new(&bin).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        format!("vizier {}", version())
    );

    // A wrong pin: refused, nothing left behind.
    let action = FakeAction::new(&version(), &[(asset, "0".repeat(64))]);
    let install_dir = tempfile::tempdir().unwrap();
    let out = action.install(&[
        ("VIZIER_RELEASE_URL", &url),
        ("VIZIER_INSTALL_DIR", &os(install_dir.path())),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains(sum), "names what was downloaded: {stderr}");
    assert_eq!(std::fs::read_dir(install_dir.path()).unwrap().count(), 0);

    // Only https:// and file:// bases: a plain-http or ftp mirror is refused before any download.
    let action = FakeAction::new(&version(), &[(asset, sum.to_owned())]);
    for base in ["http://example.invalid/releases", "ftp://example.invalid/r"] {
        let install_dir = tempfile::tempdir().unwrap();
        let out = action.install(&[
            ("VIZIER_RELEASE_URL", &os(base)),
            ("VIZIER_INSTALL_DIR", &os(install_dir.path())),
        ]);
        assert_eq!(out.status.code(), Some(3), "{base}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("must start with https:// or file://"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The cached source build

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `hash=` and `dir=` of `install-vizier.sh --cache-key`, also checking what went to GITHUB_OUTPUT.
fn cache_key(action: &FakeAction, env: &[(&str, &std::ffi::OsString)]) -> Option<(String, String)> {
    let outputs = tempfile::NamedTempFile::new().unwrap();
    let mut env = env.to_vec();
    let github_output = os(outputs.path());
    env.push(("GITHUB_OUTPUT", &github_output));
    let out = action.install_with(&["--cache-key"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(std::fs::read_to_string(outputs.path()).unwrap(), stdout);
    if stdout.is_empty() {
        return None;
    }
    let mut hash = None;
    let mut dir = None;
    for line in stdout.lines() {
        if let Some(h) = line.strip_prefix("hash=") {
            hash = Some(h.to_owned());
        } else if let Some(d) = line.strip_prefix("dir=") {
            dir = Some(d.to_owned());
        }
    }
    Some((hash.unwrap(), dir.unwrap()))
}

#[test]
fn the_build_cache_key_follows_the_source_and_is_empty_when_nothing_is_built() {
    let action = FakeAction::new("0.1.0", &[]);
    let root = action.dir.path();
    write(root, "src/main.rs", "fn main() {}\n");
    write(root, "src/cli/mod.rs", "// cli\n");
    let build = tempfile::tempdir().unwrap();
    let build_dir = os(build.path());
    let env = [("VIZIER_BUILD_DIR", &build_dir)];
    let (first, dir) = cache_key(&action, &env).expect("a source build is keyed");
    assert_eq!(first.len(), 64);
    assert_eq!(dir, build.path().to_str().unwrap());
    assert_eq!(cache_key(&action, &env).unwrap().0, first, "stable");

    // Any change to what the build is made from changes the key.
    write(root, "src/cli/mod.rs", "// cli, changed\n");
    let second = cache_key(&action, &env).unwrap().0;
    assert_ne!(second, first);
    write(root, "src/new.rs", "\n");
    let third = cache_key(&action, &env).unwrap().0;
    assert_ne!(third, second, "a new file");
    write(root, "Cargo.lock", "# another lock\n");
    assert_ne!(cache_key(&action, &env).unwrap().0, third, "the lock");
    // Files beside the source do not.
    let before = cache_key(&action, &env).unwrap().0;
    write(root, "README.md", "docs\n");
    write(root, "tests/t.rs", "\n");
    assert_eq!(cache_key(&action, &env).unwrap().0, before);

    // Nothing to key with vizier-path, or another version's pinned asset.
    let given = os(BIN);
    assert_eq!(cache_key(&action, &[("VIZIER_PATH", &given)]), None);
    let other = os("9.9.9");
    assert_eq!(cache_key(&action, &[("VIZIER_VERSION", &other)]), None);
    let pinned = FakeAction::new(
        "0.1.0",
        &[(
            &format!("vizier-0.1.0-{}.tar.gz", host_target()),
            "a".repeat(64),
        )],
    );
    assert_eq!(cache_key(&pinned, &[]), None, "the pinned asset is used");
}

/// The files the crate includes at compile time (`include_str!`, `include_bytes!`), as paths
/// relative to the repository.
fn compile_time_includes() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for marker in ["include_str!(\"", "include_bytes!(\""] {
                for (at, _) in text.match_indices(marker) {
                    let rest = &text[at + marker.len()..];
                    let rel = &rest[..rest.find('"').unwrap()];
                    let full = path.parent().unwrap().join(rel).canonicalize().unwrap();
                    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
                        .canonicalize()
                        .unwrap();
                    let inside = full.strip_prefix(&root).unwrap_or_else(|_| {
                        panic!("{} includes {} outside the crate", path.display(), rel)
                    });
                    out.push(inside.to_str().unwrap().to_owned());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&root_file("src"), &mut out);
    out
}

#[test]
fn the_build_cache_key_covers_every_file_the_build_reads() {
    let script = std::fs::read_to_string(root_file("ci/install-vizier.sh")).unwrap();
    let line = script
        .lines()
        .find_map(|l| l.strip_prefix("build_inputs=\""))
        .expect("install-vizier.sh lists build_inputs");
    let inputs: Vec<&str> = line.trim_end_matches('"').split(' ').collect();
    let includes = compile_time_includes();
    assert!(
        includes.iter().any(|i| i.starts_with("hooks/")),
        "{includes:?}"
    );
    for include in &includes {
        assert!(
            inputs
                .iter()
                .any(|i| include == i || include.starts_with(&format!("{i}/"))),
            "{include} is read by the build but not in the cache key's inputs {inputs:?}"
        );
    }
    assert!(!root_file("build.rs").exists() || inputs.contains(&"build.rs"));

    // And a change under hooks/ is a new key.
    let action = FakeAction::new("0.1.0", &[]);
    write(action.dir.path(), "src/main.rs", "fn main() {}\n");
    write(action.dir.path(), "hooks/hook.sh", "#!/bin/sh\n");
    let before = cache_key(&action, &[]).unwrap().0;
    write(action.dir.path(), "hooks/hook.sh", "#!/bin/sh\nexit 0\n");
    assert_ne!(cache_key(&action, &[]).unwrap().0, before);
}

#[test]
fn a_restored_build_is_used_without_cargo_and_a_missing_one_is_built_into_the_cache_folder() {
    let action = FakeAction::new("0.1.0", &[]);
    let tools = tempfile::tempdir().unwrap();
    let cargo = tools.path().join("record-cargo");
    // Records that it ran and leaves a binary where `cargo install --root` would.
    std::fs::write(
        &cargo,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.argv\"\nroot=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
         mkdir -p \"$root/bin\" && printf '#!/bin/sh\\necho built\\n' > \"$root/bin/vizier\" && chmod +x \"$root/bin/vizier\"\n",
    )
    .unwrap();
    make_executable(&cargo);
    let build = tempfile::tempdir().unwrap();
    let build_dir = build.path().join("vizier-build");
    let env = [
        ("CARGO", &os(&cargo)),
        ("VIZIER_BUILD_DIR", &os(&build_dir)),
    ];

    // First run: a miss, so cargo builds into the folder the cache saves.
    let out = action.install(&env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let argv = lines(&tools.path().join("record-cargo.argv"));
    assert_eq!(argv[..2], ["install", "--locked"]);
    assert_eq!(argv.last().unwrap(), build_dir.to_str().unwrap());
    let bin = build_dir.join("bin/vizier");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        bin.to_str().unwrap()
    );

    // Second run (the cache restored the folder): no cargo at all.
    std::fs::remove_file(tools.path().join("record-cargo.argv")).unwrap();
    let no_cargo = os(tools.path().join("no-such-cargo"));
    let out = action.install(&[("CARGO", &no_cargo), ("VIZIER_BUILD_DIR", &os(&build_dir))]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("using the cached build"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        bin.to_str().unwrap()
    );
    assert!(!tools.path().join("record-cargo.argv").exists());
}
