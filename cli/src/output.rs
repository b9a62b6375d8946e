//! Writing a result file without destroying anything on the way.
//!
//! [`Output::create`] refuses an output that is one of the inputs (the same file
//! by device and inode, whatever the path says: `x.pcap`, `./x.pcap`, a symlink,
//! a hard link). A regular file (or a new one) is written to a temporary file
//! beside it and renamed over it by [`Output::commit`], so a failure half-way —
//! or an input that turns out unreadable — leaves the old file as it was; a
//! symlink is followed, and the file it points to is replaced. Anything else (a
//! pipe, a terminal, `/dev/stdout`) is written directly.

use crate::chunked::ChunkWriter;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why an output could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub enum OutputError {
    /// The output is one of the inputs.
    SameAsInput {
        /// The output, as given.
        output: PathBuf,
        /// The input it is.
        input: PathBuf,
    },
    /// Creating, writing or renaming failed.
    Io {
        /// The file being written.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::SameAsInput { output, input } => write!(
                f,
                "{} is the input {} (same file): refusing to overwrite what is being read",
                output.display(),
                input.display()
            ),
            OutputError::Io { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::Io { source, .. } => Some(source),
            OutputError::SameAsInput { .. } => None,
        }
    }
}

/// An output being written; see the module docs.
pub struct Output {
    /// Where the result goes (a symlink resolved).
    target: PathBuf,
    /// The temporary file renamed over `target` at the end, for regular files.
    temp: Option<PathBuf>,
    writer: ChunkWriter,
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

impl Output {
    /// Prepares to write `path`, which must not be any of `inputs`.
    pub fn create(path: &Path, inputs: &[&Path]) -> Result<Output, OutputError> {
        let io_err = |source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        };
        let existing = fs::metadata(path).ok();
        if let Some(out) = &existing {
            for input in inputs {
                if fs::metadata(input).is_ok_and(|i| same_file(&i, out)) {
                    return Err(OutputError::SameAsInput {
                        output: path.to_path_buf(),
                        input: input.to_path_buf(),
                    });
                }
            }
        }
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            // A pipe, a terminal, /dev/stdout: nothing to replace, write through.
            let file = OpenOptions::new().write(true).open(path).map_err(io_err)?;
            return Ok(Output {
                target: path.to_path_buf(),
                temp: None,
                writer: ChunkWriter::new(file).map_err(io_err)?,
            });
        }
        // Replace the file a symlink points to, not the link.
        let target = match existing {
            Some(_) => fs::canonicalize(path).map_err(io_err)?,
            None => path.to_path_buf(),
        };
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (file, temp) = create_temp(&dir, &name).map_err(io_err)?;
        Ok(Output {
            target,
            temp: Some(temp),
            writer: ChunkWriter::new(file).map_err(io_err)?,
        })
    }

    /// Where to write (buffered; written by a thread of its own, see
    /// [`crate::chunked`]).
    pub fn writer(&mut self) -> &mut ChunkWriter {
        &mut self.writer
    }

    /// Finishes: flushes, and for a regular file renames the temporary file over
    /// the target. Until this, the target is untouched.
    pub fn commit(mut self) -> Result<(), OutputError> {
        let target = self.target.clone();
        let io_err = |source| OutputError::Io {
            path: target.clone(),
            source,
        };
        let file = self.writer.finish().map_err(io_err)?;
        if let Some(temp) = self.temp.take() {
            file.sync_all().map_err(io_err)?;
            if let Err(e) = fs::rename(&temp, &self.target) {
                let _ = fs::remove_file(&temp);
                return Err(io_err(e));
            }
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Not committed: the target keeps its old contents.
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

/// A new file `.NAME.sixfold-PID-N.tmp` in `dir`, created exclusively (never
/// through an existing file or link).
fn create_temp(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    let pid = std::process::id();
    for n in 0..1000u32 {
        let path = dir.join(format!(".{name}.sixfold-{pid}-{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sixfold-output-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_input_is_never_the_output_by_any_name() {
        let d = dir("same");
        let input = d.join("x.pcap");
        fs::write(&input, b"capture").unwrap();
        std::os::unix::fs::symlink(&input, d.join("link.pcap")).unwrap();
        fs::hard_link(&input, d.join("hard.pcap")).unwrap();
        for out in ["x.pcap", "./x.pcap", "link.pcap", "hard.pcap"] {
            let path = if out.starts_with("./") {
                d.join(".").join("x.pcap")
            } else {
                d.join(out)
            };
            let e = Output::create(&path, &[&input]).err().expect(out);
            assert!(matches!(e, OutputError::SameAsInput { .. }), "{out}: {e}");
        }
        assert_eq!(fs::read(&input).unwrap(), b"capture");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn the_target_is_untouched_until_commit_and_a_symlink_is_followed() {
        let d = dir("commit");
        let target = d.join("out.pcap");
        fs::write(&target, b"old").unwrap();
        let link = d.join("link.pcap");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        {
            let mut o = Output::create(&link, &[]).unwrap();
            o.writer().write_all(b"new").unwrap();
            // Dropped without commit: nothing changes, no temporary file stays.
        }
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 2);
        let mut o = Output::create(&link, &[]).unwrap();
        o.writer().write_all(b"new").unwrap();
        o.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let _ = fs::remove_dir_all(&d);
    }
}
