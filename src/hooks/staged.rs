//! Whether a commit changes anything under `.vizier/`, answered without loading the index through
//! libgit2. Most commits touch no template, and the pre-commit hook must cost next to nothing for
//! them. libgit2 reads the whole index (it checksums it and builds a hash map of every entry: about
//! 17 ms for a 32 000-file index here). Entries are sorted by path and `.vizier/` sorts before
//! nearly everything, so this reads the index only up to the end of the `.vizier/` entries —
//! usually within its first few kilobytes, whatever the size of the repository — and compares
//! them with `HEAD`'s `.vizier/` tree.
//!
//! It reads index versions 2 to 4. Anything else (a split index, whose entries live in another
//! file; a sparse index that folds `.vizier/` into one entry; a conflict; a damaged file) answers
//! "cannot tell", and the caller validates the index the ordinary way: never a silent pass.

use std::io::Read;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Repository, TreeWalkMode, TreeWalkResult};

use crate::error::{Error, Result};
use crate::workspace::VIZIER_DIR;

/// One index or tree entry: path from the root, file mode, object id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    path: Vec<u8>,
    mode: u32,
    oid: [u8; OID_LEN],
}

const OID_LEN: usize = 20;
/// The first read; enough for the entries before `.vizier/` in most repositories.
const FIRST_READ: u64 = 64 * 1024;

/// The name of the file, in the git folder the index lives in, that remembers the last staged
/// `.vizier/` content that this vizier itself validated without errors. Nothing else is ever
/// written there: content equal to `HEAD`'s proves nothing (`HEAD` may hold a template committed
/// with `--no-verify`).
const VALIDATED: &str = "vizier-validated";
/// Beside it: the `.vizier/` entries of the last `HEAD` commit the staged content matched, as
/// `<commit> <entries digest>`. A fact about a commit, never a claim of validity.
const HEAD_CONTENT: &str = "vizier-head-content";

/// What the quick look found.
#[derive(Debug, Default)]
pub struct Look {
    /// `Some(false)`: nothing under `.vizier/` needs checking — none is staged, the commit changes
    /// nothing there (it is what `HEAD` has), or it is exactly what this vizier last validated
    /// without errors under the same key. `Some(true)`: it differs.
    /// `None`: this quick look cannot tell.
    pub changed: Option<bool>,
    /// Where to remember the staged content once it validates, and the key to write there.
    pub remember: Option<(PathBuf, String)>,
}

/// Looks at the index git commits from. When git runs the hook it names that index in
/// `GIT_INDEX_FILE`, and then no repository is opened at all unless the `.vizier/` entries are new.
/// `head_counts`: whether content equal to `HEAD`'s needs no check (the commit brings no template
/// in); it never makes that content remembered as valid.
pub fn look(head_counts: bool) -> Result<Look> {
    let from_git = std::env::var_os("GIT_INDEX_FILE")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from);
    let (index_path, git_dir, repo) = match from_git {
        Some(index) => {
            let dir = index
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            (index, dir, None)
        }
        None => {
            let repo = open_without_index()?;
            (
                repo.path().join("index"),
                repo.path().to_path_buf(),
                Some(repo),
            )
        }
    };
    if split_index_in_use(&git_dir)? {
        return Ok(Look::default());
    }
    let read_error = |source| Error::Read {
        path: index_path.display().to_string(),
        source,
    };
    let mut file = match std::fs::File::open(&index_path) {
        Ok(file) => file,
        // No index yet: nothing is staged at all.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Look {
                changed: Some(false),
                remember: None,
            });
        }
        Err(source) => return Err(read_error(source)),
    };
    let prefix = format!("{VIZIER_DIR}/");
    let mut bytes = Vec::new();
    (&mut file)
        .take(FIRST_READ)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let mut scanned = scan(&bytes, prefix.as_bytes());
    if scanned == Scan::Short && bytes.len() as u64 == FIRST_READ {
        file.read_to_end(&mut bytes).map_err(read_error)?;
        scanned = scan(&bytes, prefix.as_bytes());
    }
    let Scan::Found(mut staged) = scanned else {
        return Ok(Look::default());
    };
    if staged.is_empty() {
        // Nothing under `.vizier/` will be in the commit, so nothing there can be invalid.
        return Ok(Look {
            changed: Some(false),
            remember: None,
        });
    }
    staged.sort();
    // Validation is a function of the staged `.vizier/` content, of this vizier and of the config it
    // reads: content this vizier validated clean under the same key needs no check now.
    // The commit changes nothing under `.vizier/` when the staged entries are `HEAD`'s. Which
    // entries a commit holds never changes, so a record of "commit X holds entries D" (never of
    // validity) answers that for the next commits on X without opening the repository.
    let digest = entries_digest(&staged);
    let head_record = git_dir.join(HEAD_CONTENT);
    let head = head_counts.then(|| head_commit(&git_dir)).flatten();
    if let Some(head) = &head
        && std::fs::read_to_string(&head_record)
            .is_ok_and(|text| text.trim() == format!("{head} {digest}"))
    {
        return Ok(Look {
            changed: Some(false),
            remember: None,
        });
    }
    let key = content_key(&git_dir, &staged);
    let cache = git_dir.join(VALIDATED);
    if std::fs::read_to_string(&cache).is_ok_and(|text| text.trim() == key) {
        return Ok(Look {
            changed: Some(false),
            remember: None,
        });
    }
    // A `HEAD` the record does not know (every commit makes a new one) is looked up in the object
    // database alone, without opening the repository.
    if let Some(head) = &head
        && let Some(mut in_head) = head_entries_from_objects(&git_dir, head)
    {
        in_head.sort();
        if staged == in_head {
            let _ = std::fs::write(&head_record, format!("{head} {digest}\n"));
            return Ok(Look {
                changed: Some(false),
                remember: None,
            });
        }
        return Ok(Look {
            changed: Some(true),
            remember: Some((cache, key)),
        });
    }
    let repo = match repo {
        Some(repo) => repo,
        None => open_without_index()?,
    };
    let mut head = head_entries(&repo)?;
    head.sort();
    if head_counts && staged == head {
        // The commit changes nothing under `.vizier/`, so it brings no template in. That is no proof
        // the content is valid (`HEAD` may hold a template committed with `--no-verify`), so it is
        // not remembered as valid: a later commit that brings this content somewhere else (a
        // squash merge onto another branch) is validated. Only "this commit holds these entries"
        // is remembered.
        if let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) {
            let _ = std::fs::write(&head_record, format!("{} {digest}\n", head.id()));
        }
        return Ok(Look {
            changed: Some(false),
            remember: None,
        });
    }
    Ok(Look {
        changed: Some(true),
        remember: Some((cache, key)),
    })
}

/// A digest of the entries alone (path, mode, blob id).
fn entries_digest(entries: &[Entry]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for e in entries {
        h.update((e.path.len() as u64).to_be_bytes());
        h.update(&e.path);
        h.update(e.mode.to_be_bytes());
        h.update(e.oid);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The commit `HEAD` names, read from the files git keeps (`HEAD`, the loose ref in this folder or
/// the common one, `packed-refs`) without opening the repository. `None` whenever that is not
/// plain (another ref storage, an unborn branch, anything odd): the caller then asks libgit2.
fn head_commit(git_dir: &Path) -> Option<String> {
    let is_oid = |s: &str| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    if is_oid(head) {
        return Some(head.to_owned());
    }
    let name = head.strip_prefix("ref: ")?.trim();
    if !name.starts_with("refs/") || name.split('/').any(|p| p.is_empty() || p == "..") {
        return None;
    }
    let common = common_dir(git_dir);
    for dir in [git_dir, common.as_path()] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            let sha = text.trim();
            return is_oid(sha).then(|| sha.to_owned());
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (sha, r) = line.split_once(' ')?;
        (r == name && is_oid(sha)).then(|| sha.to_owned())
    })
}

/// The folder holding what work trees share (refs, objects): the one `commondir` names in a linked
/// work tree's git folder, else the git folder itself.
fn common_dir(git_dir: &Path) -> PathBuf {
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.to_path_buf(),
    }
}

/// The blobs (and submodule commits) under `.vizier/` in commit `head`, read from the object
/// database alone (loose objects and packs, through libgit2): the repository's config is not read.
/// `None` whenever that is not plain — a SHA-256 repository, object folders the environment names,
/// a missing or malformed object, a tree nested deeper than any template folder needs — and the
/// caller then opens the repository.
fn head_entries_from_objects(git_dir: &Path, head: &str) -> Option<Vec<Entry>> {
    const DEEPEST: usize = 32;
    if head.len() != 2 * OID_LEN
        || std::env::var_os("GIT_OBJECT_DIRECTORY").is_some()
        || std::env::var_os("GIT_ALTERNATE_OBJECT_DIRECTORIES").is_some()
    {
        return None;
    }
    let odb = git2::Odb::new().ok()?;
    odb.add_disk_alternate(common_dir(git_dir).join("objects").to_str()?)
        .ok()?;
    let read = |oid: git2::Oid, kind: ObjectType| -> Option<Vec<u8>> {
        let object = odb.read(oid).ok()?;
        (object.kind() == kind).then(|| object.data().to_vec())
    };
    let commit = read(git2::Oid::from_str(head).ok()?, ObjectType::Commit)?;
    let tree_hex = std::str::from_utf8(commit.strip_prefix(b"tree ")?.get(..2 * OID_LEN)?).ok()?;
    let root = read(git2::Oid::from_str(tree_hex).ok()?, ObjectType::Tree)?;
    let mut entries = Vec::new();
    let Some((mode, oid)) = tree_entries(&root)?
        .into_iter()
        .find(|(_, name, _)| *name == VIZIER_DIR.as_bytes())
        .map(|(mode, _, oid)| (mode, oid))
    else {
        return Some(entries); // no `.vizier` in HEAD
    };
    if mode != TREE_MODE {
        return Some(entries); // `.vizier` is a file in HEAD
    }
    let mut pending = vec![(format!("{VIZIER_DIR}/").into_bytes(), oid, 0)];
    while let Some((prefix, oid, depth)) = pending.pop() {
        if depth > DEEPEST {
            return None;
        }
        let tree = read(git2::Oid::from_bytes(&oid).ok()?, ObjectType::Tree)?;
        for (mode, name, oid) in tree_entries(&tree)? {
            let mut path = prefix.clone();
            path.extend_from_slice(name);
            if mode == TREE_MODE {
                path.push(b'/');
                pending.push((path, oid, depth + 1));
            } else {
                entries.push(Entry {
                    path,
                    mode: canonical_mode(mode),
                    oid,
                });
            }
        }
    }
    Some(entries)
}

const TREE_MODE: u32 = 0o040000;

/// One entry of a tree object: mode, name, object id.
type TreeEntry<'t> = (u32, &'t [u8], [u8; OID_LEN]);

/// The entries of a tree object, or `None` for a malformed one.
fn tree_entries(mut data: &[u8]) -> Option<Vec<TreeEntry<'_>>> {
    let mut entries = Vec::new();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ')?;
        let mode = u32::from_str_radix(std::str::from_utf8(&data[..space]).ok()?, 8).ok()?;
        let rest = &data[space + 1..];
        let nul = rest.iter().position(|&b| b == 0)?;
        let name = &rest[..nul];
        let oid: [u8; OID_LEN] = rest.get(nul + 1..nul + 1 + OID_LEN)?.try_into().ok()?;
        entries.push((mode, name, oid));
        data = &rest[nul + 1 + OID_LEN..];
    }
    Some(entries)
}

/// A tree entry's mode as the index records it (as libgit2 normalises it: a regular file is 644
/// or 755).
fn canonical_mode(mode: u32) -> u32 {
    if mode & 0o170000 == 0o100000 {
        if mode & 0o111 != 0 {
            0o100755
        } else {
            0o100644
        }
    } else {
        mode
    }
}

/// A digest of everything a validation result depends on, so a remembered result is never applied
/// to another input: the staged `.vizier/` entries (path, mode, blob id); this vizier (its version,
/// and the path, size and modification time of the running binary, so a rebuilt or different binary
/// checks again); the branch (`HEAD` of this work tree, so nothing carries over a branch switch);
/// and the user-level config file when there is one.
fn content_key(git_dir: &Path, entries: &[Entry]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(env!("CARGO_PKG_VERSION").as_bytes());
    field(binary_identity().as_bytes());
    field(&std::fs::read(git_dir.join("HEAD")).unwrap_or_default());
    match user_config_path().map(std::fs::read) {
        Some(Ok(bytes)) => field(&bytes),
        _ => field(b"(no user config)"),
    }
    for e in entries {
        field(&e.path);
        field(&e.mode.to_be_bytes());
        field(&e.oid);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The running binary, as cheaply as it can be told apart from another build: one `stat`.
fn binary_identity() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return String::from("(unknown binary)");
    };
    let stamp = std::fs::metadata(&exe).ok().map(|m| {
        let modified = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        (m.len(), modified)
    });
    format!("{}\0{stamp:?}", exe.display())
}

/// The user-level config file (`$XDG_CONFIG_HOME/vizier/config.toml`, else `~/.config/…`).
fn user_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("vizier").join("config.toml"))
}

/// Remembers content that validated without errors. A lost or torn write only costs a second
/// validation, so there is no fsync.
pub fn remember_valid(remember: &Option<(PathBuf, String)>) {
    if let Some((path, key)) = remember {
        let _ = std::fs::write(path, format!("{key}\n"));
    }
}

/// A split index keeps most entries in `sharedindex.<hash>` beside the index; this scan reads one
/// file only. (A leftover shared index only costs the slower path.)
fn split_index_in_use(git_dir: &Path) -> Result<bool> {
    let entries = std::fs::read_dir(git_dir).map_err(|source| Error::Read {
        path: git_dir.display().to_string(),
        source,
    })?;
    Ok(entries.filter_map(|e| e.ok()).any(|e| {
        e.file_name()
            .as_encoded_bytes()
            .starts_with(b"sharedindex.")
    }))
}

/// The repository git is working in, located as git does for a hook (`GIT_DIR` when set, else the
/// current folder), without reading its index.
fn open_without_index() -> Result<Repository> {
    let found = match std::env::var_os("GIT_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Repository::open(&dir),
        None => Repository::discover("."),
    };
    found.map_err(|_| Error::NotARepo {
        path: std::env::current_dir().unwrap_or_default(),
    })
}

/// The blobs (and submodule commits) under `.vizier/` in `HEAD`'s tree; none before the first commit.
fn head_entries(repo: &Repository) -> Result<Vec<Entry>> {
    let head = match repo.head() {
        Ok(head) => head,
        Err(e)
            if matches!(
                e.code(),
                git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
            ) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(Error::git(e)),
    };
    let tree = head.peel_to_tree().map_err(Error::git)?;
    let Ok(dir) = tree.get_path(std::path::Path::new(VIZIER_DIR)) else {
        return Ok(Vec::new());
    };
    let Ok(dir) = repo.find_tree(dir.id()) else {
        return Ok(Vec::new()); // `.vizier` is a file in HEAD
    };
    let mut entries = Vec::new();
    dir.walk(TreeWalkMode::PreOrder, |parent, entry| {
        if entry.kind() != Some(ObjectType::Tree) {
            let mut path = format!("{VIZIER_DIR}/{parent}").into_bytes();
            path.extend_from_slice(entry.name_bytes());
            let mut oid = [0; OID_LEN];
            oid.copy_from_slice(&entry.id().as_bytes()[..OID_LEN]);
            entries.push(Entry {
                path,
                mode: entry.filemode() as u32,
                oid,
            });
        }
        TreeWalkResult::Ok
    })
    .map_err(Error::git)?;
    Ok(entries)
}

#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// The stage-0 entries under the prefix (possibly none).
    Found(Vec<Entry>),
    /// The bytes end before the entries under the prefix do.
    Short,
    /// Not an index this scan reads: another version, a sparse folder or a conflict under the
    /// prefix, or nonsense.
    Unsupported,
}

/// Reads index entries in order until the ones starting with `prefix` are behind.
fn scan(bytes: &[u8], prefix: &[u8]) -> Scan {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
    };
    let (Some(signature), Some(version), Some(count)) = (bytes.get(..4), u32_at(4), u32_at(8))
    else {
        return Scan::Short;
    };
    if signature != b"DIRC" || !(2..=4).contains(&version) {
        return Scan::Unsupported;
    }
    let mut at = 12;
    // Version 4 compresses each path against the one before; earlier versions store it whole.
    let mut v4_path: Vec<u8> = Vec::new();
    let mut found = Vec::new();
    for _ in 0..count {
        let start = at;
        let (Some(mode), Some(oid), Some(flags)) = (
            u32_at(start + 24),
            bytes.get(start + 40..start + 60),
            u16_at(start + 60),
        ) else {
            return Scan::Short;
        };
        let mut name_at = start + 62;
        let mut extended = 0;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return Scan::Unsupported;
            }
            let Some(flags2) = u16_at(name_at) else {
                return Scan::Short;
            };
            extended = flags2;
            name_at += 2;
        }
        let Some(rest) = bytes.get(name_at..) else {
            return Scan::Short;
        };
        let path: &[u8] = if version == 4 {
            let Some((strip, used)) = varint(rest) else {
                return Scan::Short;
            };
            let Some(end) = rest[used..].iter().position(|&b| b == 0) else {
                return Scan::Short;
            };
            let Some(keep) = v4_path.len().checked_sub(strip) else {
                return Scan::Unsupported;
            };
            v4_path.truncate(keep);
            v4_path.extend_from_slice(&rest[used..used + end]);
            at = name_at + used + end + 1;
            &v4_path
        } else {
            let len = match (flags & 0x0fff) as usize {
                0x0fff => match rest.iter().position(|&b| b == 0) {
                    Some(len) => len,
                    None => return Scan::Short,
                },
                len => len,
            };
            // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
            at = start + ((name_at - start + len + 8) & !7);
            if at > bytes.len() {
                return Scan::Short;
            }
            &rest[..len]
        };
        if path.starts_with(prefix) {
            let stage = (flags >> 12) & 0x3;
            // A sparse index folds a folder outside the sparse cone into one tree entry.
            if stage != 0 || mode == 0o040000 {
                return Scan::Unsupported;
            }
            // `git add -N`: recorded, but not part of the commit.
            let intent_to_add = extended & 0x2000 != 0;
            if !intent_to_add {
                found.push(Entry {
                    path: path.to_vec(),
                    mode,
                    oid: oid.try_into().expect("20 bytes"),
                });
            }
        } else if path > prefix {
            break; // sorted: no later entry is under the prefix
        }
    }
    Scan::Found(found)
}

/// git's offset varint (`decode_varint`): returns the value and the bytes it used.
fn varint(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut used = 0;
    let mut byte = *bytes.first()?;
    used += 1;
    let mut value = (byte & 0x7f) as usize;
    while byte & 0x80 != 0 {
        byte = *bytes.get(used)?;
        used += 1;
        value = value.checked_add(1)?.checked_mul(128)? + (byte & 0x7f) as usize;
    }
    Some((value, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A repository whose index holds files before, inside and after `.vizier/`, an executable, and
    /// one path too long for the 12-bit length field (staged directly: no file system takes it).
    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        for (rel, text) in [
            (".a", "a"),
            (".vizier/config.toml", "c"),
            (".vizier/workflow/ci.toml", "t"),
            (".vizierish", "not under the folder"),
            ("src/main.rs", "fn main() {}"),
        ] {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        std::fs::write(root.join(".vizier/run.sh"), "#!/bin/sh\n").unwrap();
        git(root, &["add", "-A"]);
        git(root, &["update-index", "--chmod=+x", ".vizier/run.sh"]);
        let blob = git(root, &["hash-object", "-w", "src/main.rs"]);
        let long = format!("100644,{blob},.vizier/workflow/{}.toml", "x".repeat(5000));
        git(root, &["update-index", "--add", "--cacheinfo", &long]);
        dir
    }

    /// What git itself reads from the same index (`git ls-files --stage`), for comparison.
    fn expected(root: &Path) -> Vec<Entry> {
        let listing = git(root, &["ls-files", "--stage", "-z", "--", ".vizier/"]);
        let mut entries: Vec<Entry> = listing
            .split('\0')
            .filter(|l| !l.is_empty())
            .map(|line| {
                let (meta, path) = line.split_once('\t').unwrap();
                let mut fields = meta.split(' ');
                let mode = u32::from_str_radix(fields.next().unwrap(), 8).unwrap();
                let oid = git2::Oid::from_str(fields.next().unwrap()).unwrap();
                Entry {
                    path: path.as_bytes().to_vec(),
                    mode,
                    oid: oid.as_bytes().try_into().unwrap(),
                }
            })
            .collect();
        entries.sort();
        entries
    }

    fn scanned(root: &Path) -> Option<Vec<Entry>> {
        let bytes = std::fs::read(root.join(".git/index")).unwrap();
        match scan(&bytes, b".vizier/") {
            Scan::Found(mut entries) => {
                entries.sort();
                Some(entries)
            }
            _ => None,
        }
    }

    #[test]
    fn reads_index_versions_2_3_and_4_like_libgit2() {
        let dir = repo();
        let root = dir.path();
        for version in ["2", "3", "4"] {
            git(root, &["update-index", "--index-version", version]);
            let found = scanned(root).unwrap_or_else(|| panic!("version {version} not read"));
            assert_eq!(found.len(), 4, "version {version}");
            // (Compared with `==`: the long path makes a failure message unreadable.)
            assert!(
                found == expected(root),
                "version {version} differs from git"
            );
            assert!(found.iter().any(|e| e.mode == 0o100755));
        }
    }

    #[test]
    fn intent_to_add_entries_are_not_staged_content() {
        let dir = repo();
        let root = dir.path();
        std::fs::write(root.join(".vizier/workflow/new.toml"), "n").unwrap();
        git(root, &["add", "-N", ".vizier/workflow/new.toml"]);
        let found = scanned(root).expect("version 3 index read");
        assert_eq!(found.len(), 4);
        assert!(!found.iter().any(|e| e.path.ends_with(b"new.toml")));
    }

    #[test]
    fn a_split_index_is_noticed() {
        let dir = repo();
        let git_dir = dir.path().join(".git");
        assert!(!split_index_in_use(&git_dir).unwrap());
        git(dir.path(), &["update-index", "--split-index"]);
        assert!(split_index_in_use(&git_dir).unwrap());
    }

    #[test]
    fn a_sparse_index_folding_the_folder_is_left_to_the_full_reader() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        for rel in [".vizier/workflow/ci.toml", "src/main.rs"] {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), "x").unwrap();
        }
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "all"]);
        git(
            root,
            &["sparse-checkout", "set", "--cone", "--sparse-index", "src"],
        );
        // git now records `.vizier/` as one folder entry.
        assert!(git(root, &["ls-files", "--sparse", "--stage"]).contains("040000"));
        assert!(scanned(root).is_none());
    }

    #[test]
    fn reading_stops_after_the_folder() {
        let dir = repo();
        let bytes = std::fs::read(dir.path().join(".git/index")).unwrap();
        let later = bytes.windows(11).position(|w| w == b"src/main.rs").unwrap();
        let Scan::Found(entries) = scan(&bytes[..later + 11], b".vizier/") else {
            panic!("the entries up to `src/main.rs` should be enough");
        };
        assert_eq!(entries.len(), 4);
    }

    #[test]
    fn short_or_foreign_bytes_are_never_an_empty_answer() {
        let dir = repo();
        let bytes = std::fs::read(dir.path().join(".git/index")).unwrap();
        for cut in [0, 3, 12, 40, 100, 600] {
            assert_eq!(
                scan(&bytes[..cut], b".vizier/"),
                Scan::Short,
                "cut at {cut}"
            );
        }
        let mut wrong = bytes.clone();
        wrong[0] = b'X';
        assert_eq!(scan(&wrong, b".vizier/"), Scan::Unsupported);
    }

    /// A repository on `main` with one commit of one file (`file`, holding its own name).
    fn one_commit(file: &str, message: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        std::fs::write(root.join(file), file).unwrap();
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", message]);
        dir
    }

    #[test]
    fn head_commit_reads_loose_packed_detached_and_worktree_heads_like_git() {
        let dir = one_commit("a", "one");
        let root = dir.path();
        let sha = git(root, &["rev-parse", "HEAD"]);
        let git_dir = root.join(".git");
        assert_eq!(head_commit(&git_dir).as_deref(), Some(sha.as_str()));
        git(root, &["pack-refs", "--all"]);
        assert!(!git_dir.join("refs/heads/main").exists());
        assert_eq!(head_commit(&git_dir).as_deref(), Some(sha.as_str()));
        let linked = tempfile::tempdir().unwrap();
        let wt = linked.path().join("wt");
        git(
            root,
            &["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()],
        );
        let wt_git = root.join(".git/worktrees/wt");
        assert_eq!(head_commit(&wt_git).as_deref(), Some(sha.as_str()));
        git(root, &["checkout", "-q", "--detach"]);
        assert_eq!(head_commit(&git_dir).as_deref(), Some(sha.as_str()));
        git(root, &["checkout", "-q", "--orphan", "nothing-yet"]);
        assert_eq!(head_commit(&git_dir), None);
    }

    #[test]
    fn varints_decode_like_git() {
        assert_eq!(varint(&[0x00]), Some((0, 1)));
        assert_eq!(varint(&[0x7f]), Some((127, 1)));
        assert_eq!(varint(&[0x80, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0x81, 0x7f]), Some((383, 2)));
        assert_eq!(varint(&[0x80]), None);
    }

    /// `HEAD`'s `.vizier/` entries as libgit2's tree walk gives them, for comparison.
    fn walked(root: &Path) -> Vec<Entry> {
        let mut entries = head_entries(&Repository::open(root).unwrap()).unwrap();
        entries.sort();
        entries
    }

    fn from_objects(git_dir: &Path) -> Option<Vec<Entry>> {
        let head = head_commit(git_dir)?;
        let mut entries = head_entries_from_objects(git_dir, &head)?;
        entries.sort();
        Some(entries)
    }

    #[test]
    fn head_entries_read_from_objects_match_libgit2_loose_packed_and_in_a_worktree() {
        let dir = repo();
        let root = dir.path();
        // A nested folder, a symlink and a submodule entry besides the files `repo` stages.
        std::fs::create_dir_all(root.join(".vizier/workflow/deep/er")).unwrap();
        std::fs::write(root.join(".vizier/workflow/deep/er/x.toml"), "x").unwrap();
        std::os::unix::fs::symlink("ci.toml", root.join(".vizier/workflow/link.toml")).unwrap();
        git(root, &["add", "-A"]);
        git(root, &["update-index", "--chmod=+x", ".vizier/run.sh"]);
        let gitlink = format!("160000,{},.vizier/sub", "1".repeat(40));
        git(root, &["update-index", "--add", "--cacheinfo", &gitlink]);
        git(root, &["commit", "-q", "-m", "templates"]);
        let git_dir = root.join(".git");
        let loose = from_objects(&git_dir).expect("loose objects read");
        assert!(loose == walked(root), "loose objects differ from libgit2");
        assert!(loose.iter().any(|e| e.path.ends_with(b"deep/er/x.toml")));
        assert!(loose.iter().any(|e| e.mode == 0o120000));
        assert!(loose.iter().any(|e| e.mode == 0o160000));
        assert!(loose.iter().any(|e| e.mode == 0o100755));
        assert!(
            loose == expected(root),
            "differs from the index it was committed from"
        );

        git(root, &["gc", "-q"]);
        assert!(
            std::fs::read_dir(git_dir.join("objects/pack"))
                .unwrap()
                .count()
                > 0
        );
        let packed = from_objects(&git_dir).expect("packed objects read");
        assert!(packed == loose, "packed objects read differently");

        let tree = root.join("linked");
        git(
            root,
            &[
                "worktree",
                "add",
                "-q",
                "--no-checkout",
                "-b",
                "other",
                tree.to_str().unwrap(),
            ],
        );
        let linked_git_dir = git_dir.join("worktrees/linked");
        assert!(linked_git_dir.join("commondir").is_file());
        assert!(from_objects(&linked_git_dir) == Some(loose.clone()));
    }

    #[test]
    fn head_entries_from_objects_without_the_folder_or_with_a_file_there() {
        let dir = one_commit("README", "no folder");
        let root = dir.path();
        assert_eq!(from_objects(&root.join(".git")), Some(Vec::new()));
        std::fs::write(root.join(".vizier"), "a file").unwrap();
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "a file"]);
        assert_eq!(from_objects(&root.join(".git")), Some(Vec::new()));
        assert_eq!(walked(root), Vec::new());
    }

    #[test]
    fn a_head_the_object_reader_cannot_follow_is_left_to_libgit2() {
        let dir = repo();
        let root = dir.path();
        git(root, &["commit", "-q", "-m", "templates"]);
        let git_dir = root.join(".git");
        // An object that is not there, and one of another kind.
        assert_eq!(head_entries_from_objects(&git_dir, &"0".repeat(40)), None);
        let blob = git(root, &["rev-parse", "HEAD:src/main.rs"]);
        assert_eq!(head_entries_from_objects(&git_dir, &blob), None);
        // A SHA-256 id is not read here.
        assert_eq!(head_entries_from_objects(&git_dir, &"a".repeat(64)), None);
        // Malformed trees.
        assert_eq!(tree_entries(b"100644 name"), None);
        assert_eq!(tree_entries(b"10x644 name\0aaaaaaaaaaaaaaaaaaaa"), None);
        assert_eq!(tree_entries(b"100644 name\0short"), None);
        assert_eq!(tree_entries(b""), Some(Vec::new()));
    }
}
