//! Replacing the config file so that a crash at any moment leaves either the
//! old or the new file complete: temp file in the same directory, fsync,
//! rename over the target, fsync the directory.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::rewrite::{DesiredLines, ParsedConfig, RewriteLine};

/// Tells concurrent writers in one process apart (the pid does it across
/// processes).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Rewrites the config file at `path` to hold `desired` (see
/// [`super::rewrite::rewrite_config`]) and replaces it atomically. A missing file counts as
/// empty. The caller logs a failure as
/// `WARNING: Sentinel was not able to save the new configuration on disk!!!: <err>`.
pub fn rewrite_file(
    path: &Path,
    desired: &[RewriteLine],
    managed: &BTreeSet<String>,
) -> io::Result<()> {
    rewrite_file_cached(
        path,
        &desired.into(),
        managed,
        &mut WrittenConfig::default(),
    )
}

/// How the file a writer wrote last parses, kept between flushes without
/// the file's text (a third of a megabyte at 1 000 masters): its SHA-256
/// tells whether the file on disk is still the one written, and then the
/// text read from it is the parse's own.
#[derive(Debug, Default)]
pub struct WrittenConfig {
    last: Option<([u8; 32], ParsedConfig)>,
}

impl WrittenConfig {
    /// How `file` parses: from the kept parse when `file` is what was
    /// written last, read line by line otherwise.
    fn parse(&mut self, file: Vec<u8>) -> ParsedConfig {
        match self.last.take() {
            Some((digest, parsed))
                if parsed.text_len() == file.len() && Sha256::digest(&file)[..] == digest[..] =>
            {
                parsed.with_text(file)
            }
            _ => ParsedConfig::parse(&file),
        }
    }

    /// Keeps `parsed`, the parse of `written` without its text, when there
    /// is one that stands for that file line for line (otherwise the next
    /// flush reads the file anew).
    fn remember(&mut self, written: &[u8], parsed: Option<ParsedConfig>) {
        self.last = parsed.map(|parsed| (Sha256::digest(written).into(), parsed));
    }

    /// Whether a parse is kept for `file`.
    #[cfg(test)]
    fn is_kept_for(&self, file: &[u8]) -> bool {
        self.last
            .as_ref()
            .is_some_and(|(digest, _)| Sha256::digest(file)[..] == digest[..])
    }
}

/// [`rewrite_file`] for a writer that rewrites the same file again and
/// again: when the file still holds what `last` says was written, its
/// parse is taken from `last` instead of read again line by line (an
/// operator's edit in between is simply a different file, parsed anew).
/// Only the parse is kept, not a copy of the file as well.
/// `last` is updated once the new file is in place.
pub fn rewrite_file_cached(
    path: &Path,
    desired: &DesiredLines,
    managed: &BTreeSet<String>,
    last: &mut WrittenConfig,
) -> io::Result<()> {
    let target = resolve_target(path)?;
    let old = match fs::read(&target) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let (new, parsed) = last.parse(old).rewrite(desired, managed);
    write_atomically(&target, &new)?;
    last.remember(&new, parsed);
    Ok(())
}

/// Replaces `path` with `contents` atomically and durably.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomically_with(path, |file| file.write_all(contents))
}

/// Like [`write_atomically`], with the writing done by `fill`; if `fill`
/// fails, the target is untouched and the temp file is removed.
pub(crate) fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let target = resolve_target(path)?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "config path has no file name")
    })?;
    let temp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    // Keep the permissions the operator gave the file (passwords live in it).
    let mode = fs::metadata(&target)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);

    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        fill(&mut file)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, &target)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // The rename is only durable once the directory entry is on disk.
    File::open(&dir)?.sync_all()
}

/// Writes through a symlinked config file to the file it points at, instead
/// of replacing the link with a regular file.
fn resolve_target(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path),
        _ => Ok(path.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn new_content_replaces_the_file_and_no_temp_file_remains() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        fs::write(&file, "old\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&file, b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "new\n");
        assert_eq!(entries(dir.path()), vec!["s.conf"]);
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn the_file_is_replaced_by_rename_not_rewritten_in_place() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        fs::write(&file, "old\n").unwrap();
        let before = fs::metadata(&file).unwrap().ino();
        write_atomically(&file, b"new\n").unwrap();
        assert_ne!(fs::metadata(&file).unwrap().ino(), before);
    }

    #[test]
    fn a_failing_write_leaves_the_original_intact() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        fs::write(&file, "old content\n").unwrap();
        let err = write_atomically_with(&file, |f| {
            f.write_all(b"half of the ne")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(fs::read_to_string(&file).unwrap(), "old content\n");
        assert_eq!(entries(dir.path()), vec!["s.conf"]);
    }

    #[test]
    fn a_failing_rename_removes_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("is-a-dir");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), "x").unwrap();
        assert!(write_atomically(&target, b"new\n").is_err());
        assert_eq!(entries(dir.path()), vec!["is-a-dir"]);
    }

    #[test]
    fn a_symlinked_config_is_written_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.conf");
        let link = dir.path().join("link.conf");
        fs::write(&real, "old\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, b"new\n").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new\n");
    }

    #[test]
    fn a_cached_rewrite_writes_what_a_fresh_one_would_and_sees_an_operators_edit() {
        let dir = tempfile::tempdir().unwrap();
        let (cached, fresh) = (dir.path().join("a.conf"), dir.path().join("b.conf"));
        let start = "# mine\nport 26379\nsentinel monitor m 127.0.0.1 6379 2\nbogus x\n";
        fs::write(&cached, start).unwrap();
        fs::write(&fresh, start).unwrap();
        let managed: BTreeSet<String> = ["sentinel current-epoch".to_string()].into();
        let mut last = WrittenConfig::default();
        for (i, edit) in [None, None, Some("# added by hand\n"), None]
            .iter()
            .enumerate()
        {
            if let Some(text) = edit {
                for f in [&cached, &fresh] {
                    let mut old = fs::read(f).unwrap();
                    old.extend_from_slice(text.as_bytes());
                    fs::write(f, old).unwrap();
                }
            }
            let desired = vec![
                RewriteLine::new("sentinel monitor m 127.0.0.1 6379 2", true),
                RewriteLine::new(format!("sentinel current-epoch {i}"), true),
                RewriteLine::new(format!("sentinel known-replica m 10.0.0.{i} 6380"), true),
            ];
            rewrite_file_cached(&cached, &desired[..].into(), &managed, &mut last).unwrap();
            rewrite_file(&fresh, &desired, &managed).unwrap();
            let got = fs::read_to_string(&cached).unwrap();
            assert_eq!(got, fs::read_to_string(&fresh).unwrap(), "flush {i}");
            assert!(last.is_kept_for(got.as_bytes()));
        }
        let end = fs::read_to_string(&cached).unwrap();
        assert!(end.contains("# added by hand\n"), "{end}");
        assert!(end.contains("# ??? bogus x\n"), "{end}");
        assert!(end.contains("sentinel current-epoch 3\n"), "{end}");
    }

    #[test]
    fn an_edit_of_the_same_length_is_not_taken_for_the_written_file() {
        // The kept parse has no text: only the digest can tell this edit
        // (same length, same line ends) from the file as written.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        fs::write(&file, "sentinel monitor m 127.0.0.1 6379 2\n").unwrap();
        let managed: BTreeSet<String> = ["sentinel current-epoch".to_string()].into();
        let desired = vec![
            RewriteLine::new("sentinel monitor m 127.0.0.1 6379 2", true),
            RewriteLine::new("sentinel current-epoch 1", true),
        ];
        let mut last = WrittenConfig::default();
        rewrite_file_cached(&file, &desired[..].into(), &managed, &mut last).unwrap();
        let written = fs::read_to_string(&file).unwrap();
        assert!(last.is_kept_for(written.as_bytes()));
        let edited = written.replace("monitor m 127.0.0.1 6379 2", "bogus-x m 127.0.0.1 6379 2");
        assert_eq!(edited.len(), written.len());
        fs::write(&file, &edited).unwrap();
        rewrite_file_cached(&file, &desired[..].into(), &managed, &mut last).unwrap();
        let again = fs::read_to_string(&file).unwrap();
        // Read anew, as a fresh rewrite of the edited file is: the edited
        // line keeps its place (the kept parse had it as the monitor line,
        // which the rewrite would have replaced).
        let fresh = dir.path().join("fresh.conf");
        fs::write(&fresh, &edited).unwrap();
        rewrite_file(&fresh, &desired, &managed).unwrap();
        assert_eq!(again, fs::read_to_string(&fresh).unwrap());
        assert!(
            again.contains("sentinel bogus-x m 127.0.0.1 6379 2\n"),
            "{again}"
        );
    }

    #[test]
    fn rewrite_file_keeps_comments_and_writes_no_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.conf");
        fs::write(&file, "# mine\nsentinel known-slave m a 1\n").unwrap();
        let desired = vec![
            RewriteLine::new("sentinel known-replica m a 1", true),
            RewriteLine::new("sentinel known-replica m a 1", true),
        ];
        rewrite_file(&file, &desired, &BTreeSet::new()).unwrap();
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "# mine\nsentinel known-replica m a 1\n\n"
        );
    }
}
