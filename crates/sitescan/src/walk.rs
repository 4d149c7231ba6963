//! Which files a scan reads: regular files under the roots, never through
//! a symlink (so nothing outside the tree is read), never special files,
//! nothing over the size cap. What is left out is said, with why.

use std::path::{Path, PathBuf};

use crate::Summary;

pub(crate) fn collect(root: &Path, max_size: u64, out: &mut Vec<PathBuf>, sum: &mut Summary) {
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) => {
            sum.errors
                .push(format!("{}: cannot read: {e}", root.display()));
            return;
        }
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        sum.skipped
            .push(format!("{}: a symlink (not followed)", root.display()));
    } else if ft.is_dir() {
        let entries = match std::fs::read_dir(root) {
            Ok(e) => e,
            Err(e) => {
                sum.errors
                    .push(format!("{}: cannot list: {e}", root.display()));
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        children.sort();
        for c in children {
            collect(&c, max_size, out, sum);
        }
    } else if ft.is_file() {
        if meta.len() > max_size {
            sum.skipped.push(format!(
                "{}: {} bytes, over the {max_size}-byte limit",
                root.display(),
                meta.len()
            ));
        } else {
            out.push(root.to_path_buf());
        }
    } else {
        sum.skipped.push(format!(
            "{}: not a regular file (device, socket or pipe)",
            root.display()
        ));
    }
}
