//! Atomic creation of a file in a local lake without a staging name (a sensor file too large for
//! a landing row, streamed in). object_store writes `<name>#<n>` and renames it, leaving the
//! staging file behind after a crash. Here the bytes go to an unnamed inode of the target folder
//! (`O_TMPFILE`) that is linked under its final name once complete: readers see no file or the
//! whole file, and a crash leaves nothing behind. With `sync`, the bytes reach the disk before
//! the name exists, so a power loss cannot leave a named file without its content.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// What [`create_atomically_with`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The file is there, complete.
    Yes,
    /// Not done: the file exists already, or the file system has no unnamed files. The caller
    /// writes through object_store instead (which also replaces an existing file).
    Fallback,
}

/// Create `path` with the content `write` puts into it (e.g. a stream copy of a file too large
/// to hold in memory); its folder is created when missing.
pub fn create_atomically_with(
    path: &Path,
    sync: bool,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<Created> {
    let Some(folder) = path.parent() else {
        return Ok(Created::Fallback);
    };
    let file = match open_unnamed(folder) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(folder)?;
            open_unnamed(folder)
        }
        other => other,
    };
    let mut file = match file {
        Ok(file) => file,
        Err(e) if unsupported(&e) => return Ok(Created::Fallback),
        Err(e) => return Err(e),
    };
    write(&mut file)?;
    if sync {
        file.sync_data()?;
    }
    link(&file, path)
}

/// Make an existing file and its name durable.
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_data()?;
    match path.parent() {
        Some(folder) => File::open(folder)?.sync_all(),
        None => Ok(()),
    }
}

fn open_unnamed(folder: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .open(folder)
}

/// `O_TMPFILE` refused by the kernel or the file system.
fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
    )
}

/// Give the unnamed `file` its name. Linking through `/proc/self/fd` needs no privilege
/// (`AT_EMPTY_PATH` would need CAP_DAC_READ_SEARCH).
fn link(file: &File, path: &Path) -> io::Result<Created> {
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let to = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: both arguments are valid NUL-terminated strings that outlive the call.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if linked == 0 {
        return Ok(Created::Yes);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // The name is taken (a file being replaced), or there is no /proc to link from.
        Some(libc::EEXIST | libc::ENOENT) => Ok(Created::Fallback),
        _ => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn create_atomically(path: &Path, bytes: &[u8], sync: bool) -> io::Result<Created> {
        create_atomically_with(path, sync, |file| file.write_all(bytes))
    }

    #[test]
    fn creates_whole_files_and_leaves_existing_ones_to_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.json");
        assert_eq!(create_atomically(&path, b"{}", true).unwrap(), Created::Yes);
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert_eq!(
            create_atomically(&path, b"longer", false).unwrap(),
            Created::Fallback
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"{}", "never half-replaced");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file.json"], "no staging files");
    }
}
