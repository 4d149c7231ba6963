//! Taking a file out of a site and putting it back exactly: content, mode,
//! owner and times. The kept copy is mode 000 in a directory only root can
//! enter, outside any docroot, so it can neither run nor be served.
//! Nothing is ever deleted: a file leaves its place only once its copy is
//! safely written, and comes back only if its hash still matches.

use std::fs::{File, FileTimes, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What is kept of a file to put it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i64,
    pub atime_ns: i64,
    pub sha256: String,
}

fn sha256_of(path: &Path) -> Result<String, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(crate::sha256_hex(&data))
}

/// The metadata of a regular file (a symlink or special file is refused).
pub fn inspect(path: &Path) -> Result<FileMeta, String> {
    let m = std::fs::symlink_metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !m.file_type().is_file() {
        return Err(format!(
            "{} is not a regular file (symlinks and special files are left alone)",
            path.display()
        ));
    }
    Ok(FileMeta {
        size: m.size(),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        atime_ns: m.atime() * 1_000_000_000 + m.atime_nsec(),
        sha256: sha256_of(path)?,
    })
}

fn copy_synced(from: &Path, to: &Path) -> Result<(), String> {
    let data = std::fs::read(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    let mut f = File::create(to).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    f.write_all(&data)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", to.display()))
}

/// Moves `path` to `kept` (a rename on the same filesystem, else a synced
/// copy then removal of the original) and makes the copy mode 000.
pub fn take(path: &Path, kept: &Path, meta: &FileMeta) -> Result<(), String> {
    if let Some(dir) = kept.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::set_permissions(dir, Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot protect {}: {e}", dir.display()))?;
    }
    if std::fs::rename(path, kept).is_err() {
        copy_synced(path, kept)?;
        if sha256_of(kept)? != meta.sha256 {
            let _ = std::fs::remove_file(kept);
            return Err(format!(
                "the copy of {} does not match its hash; left in place",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("copied, but cannot remove {}: {e}", path.display()))?;
    }
    std::fs::set_permissions(kept, Permissions::from_mode(0o000))
        .map_err(|e| format!("cannot make {} harmless: {e}", kept.display()))
}

fn time_of(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

/// Puts a kept file back at `path` with its mode, owner and times, after
/// checking its hash. A file already at `path` is not overwritten unless
/// `force`.
pub fn put_back(kept: &Path, path: &Path, meta: &FileMeta, force: bool) -> Result<(), String> {
    if path.exists() && !force {
        return Err(format!(
            "{} exists; restore with --force to replace it",
            path.display()
        ));
    }
    // Readable again for the hash check and the copy.
    std::fs::set_permissions(kept, Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot read {}: {e}", kept.display()))?;
    if sha256_of(kept)? != meta.sha256 {
        let _ = std::fs::set_permissions(kept, Permissions::from_mode(0o000));
        return Err(format!(
            "{} no longer matches its recorded hash; not restored",
            kept.display()
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if std::fs::rename(kept, path).is_err() {
        copy_synced(kept, path)?;
        std::fs::remove_file(kept)
            .map_err(|e| format!("restored, but cannot remove {}: {e}", kept.display()))?;
    }
    std::os::unix::fs::chown(path, Some(meta.uid), Some(meta.gid)).map_err(|e| {
        format!(
            "restored, but cannot set the owner of {}: {e}",
            path.display()
        )
    })?;
    std::fs::set_permissions(path, Permissions::from_mode(meta.mode)).map_err(|e| {
        format!(
            "restored, but cannot set the mode of {}: {e}",
            path.display()
        )
    })?;
    let f = File::options().write(true).open(path).map_err(|e| {
        format!(
            "restored, but cannot set the times of {}: {e}",
            path.display()
        )
    })?;
    f.set_times(
        FileTimes::new()
            .set_accessed(time_of(meta.atime_ns))
            .set_modified(time_of(meta.mtime_ns)),
    )
    .map_err(|e| {
        format!(
            "restored, but cannot set the times of {}: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_goes_and_comes_back_exactly() {
        let dir = std::env::temp_dir().join(format!("unlisted-q-{}", std::process::id()));
        let site = dir.join("site");
        std::fs::create_dir_all(&site).unwrap();
        let f = site.join("x.php");
        std::fs::write(&f, "<?php /* test */\n").unwrap();
        std::fs::set_permissions(&f, Permissions::from_mode(0o640)).unwrap();
        let old = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_times(FileTimes::new().set_modified(old).set_accessed(old))
            .unwrap();
        let meta = inspect(&f).unwrap();
        let kept = dir.join("q/1-abc");
        take(&f, &kept, &meta).unwrap();
        assert!(!f.exists());
        assert_eq!(std::fs::metadata(&kept).unwrap().mode() & 0o7777, 0);
        put_back(&kept, &f, &meta, false).unwrap();
        let back = inspect(&f).unwrap();
        assert_eq!(back, meta);
        assert!(!kept.exists());
        // Refuses to overwrite, refuses a tampered copy, refuses symlinks.
        take(&f, &kept, &meta).unwrap();
        std::fs::write(&f, "new").unwrap();
        assert!(
            put_back(&kept, &f, &meta, false)
                .unwrap_err()
                .contains("exists")
        );
        std::fs::set_permissions(&kept, Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&kept, "tampered").unwrap();
        assert!(
            put_back(&kept, &f, &meta, true)
                .unwrap_err()
                .contains("no longer matches")
        );
        std::os::unix::fs::symlink("/etc/passwd", site.join("link")).unwrap();
        assert!(
            inspect(&site.join("link"))
                .unwrap_err()
                .contains("not a regular file")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
