//! The heap file: a warm-restartable engine keeps its index and its segments in a
//! shared mapping of one file, and writes everything else there at a clean shutdown.
//!
//! ```text
//! +-------------+----------------------+----------------------+---------------------+
//! | header page | image (written at    | index (mapped, live) | segments (mapped,   |
//! | (4 KiB)     | a clean shutdown)    |                      | live)               |
//! +-------------+----------------------+----------------------+---------------------+
//! ```
//!
//! Every region starts on a page and its size follows from the configuration alone,
//! so the header's shape says where everything is. The header is written twice in a
//! run: at start marked *in use*, and at a clean shutdown, after the image and the
//! mappings are on the file, marked *clean* with the checksum of the image, the index
//! and every byte written in a segment in use. A restore needs the clean mark, a
//! header whose own checksum holds, the same shape, and the same image checksum;
//! anything else starts empty. A file that is not ours, or that another version or
//! configuration wrote, is renamed aside rather than overwritten.

use crate::error::HeapFileError;
use crate::heap_header::{BadHeader, Header, Regions, Shape, FORMAT_VERSION, PAGE_BYTES};
use memmap2::MmapRaw;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an old file that cannot be restored is renamed to (its path plus this).
pub(crate) const KEPT_ASIDE_SUFFIX: &str = ".incompatible";

/// An open, locked heap file and its mapping.
#[derive(Debug)]
pub(crate) struct HeapFile {
    file: File,
    path: PathBuf,
    /// The whole file, shared: the index and segments are views into it.
    pub map: Arc<MmapRaw>,
    pub regions: Regions,
    /// The header as this run wrote it (in use) at start.
    pub header: Header,
}

/// What was found at the path.
#[derive(Debug)]
pub(crate) enum Found {
    /// A clean file of this shape: restore it (checksum still to be checked).
    Restorable(HeapFile, Header),
    /// A file of this shape made ready empty: why the old contents were not used.
    Empty(HeapFile, EmptyReason),
}

/// Why an engine on a heap file started empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmptyReason {
    /// There was no file (or an empty one).
    NewFile,
    /// The last run did not shut down cleanly (a crash, kill -9, or a failed save).
    NotShutDownCleanly,
    /// The header's bytes do not match their checksum.
    CorruptHeader,
    /// The image, index or segments do not match the checksum of the clean shutdown.
    ChecksumMismatch,
    /// The file could not be restored as it is and was renamed to `kept_at`.
    KeptAside {
        /// Why it could not be restored.
        why: String,
        /// Where the old file now is.
        kept_at: PathBuf,
    },
}

impl std::fmt::Display for EmptyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmptyReason::NewFile => write!(f, "new heap file"),
            EmptyReason::NotShutDownCleanly => write!(
                f,
                "the last run did not shut down cleanly (crash, kill -9 or failed save): its data cannot be vouched for"
            ),
            EmptyReason::CorruptHeader => write!(f, "the heap file's header is corrupt"),
            EmptyReason::ChecksumMismatch => {
                write!(f, "the heap file does not match the checksum of its clean shutdown")
            }
            EmptyReason::KeptAside { why, kept_at } => {
                write!(f, "{why}; the old file is kept as {}", kept_at.display())
            }
        }
    }
}

impl HeapFile {
    /// Opens (or creates) the heap file at `path` for an engine of `shape` and locks
    /// it against every other process.
    pub(crate) fn open(path: &Path, shape: Shape) -> Result<Found, HeapFileError> {
        let io = |what: &'static str| {
            let path = path.to_owned();
            move |error: std::io::Error| HeapFileError::Io { what, path, error }
        };
        let file = open_locked(path)?;
        let len = file.metadata().map_err(io("read the size of"))?.len();
        if len == 0 {
            return Self::create(file, path, shape)
                .map(|file| Found::Empty(file, EmptyReason::NewFile));
        }
        let mut page = vec![0u8; PAGE_BYTES.min(len as usize)];
        file.read_exact_at(&mut page, 0)
            .map_err(io("read the header of"))?;
        let aside = |file: File, why: String| -> Result<Found, HeapFileError> {
            let kept_at = keep_aside(path)?;
            drop(file);
            let fresh = open_locked(path)?;
            let reason = EmptyReason::KeptAside { why, kept_at };
            Self::create(fresh, path, shape).map(|file| Found::Empty(file, reason))
        };
        let header = match Header::decode(&page) {
            Ok(header) => header,
            Err(BadHeader::Foreign) => return aside(file, "not a tailcache heap file".to_owned()),
            Err(BadHeader::Corrupt) => {
                return Self::create(file, path, shape)
                    .map(|file| Found::Empty(file, EmptyReason::CorruptHeader))
            }
        };
        if header.format_version != FORMAT_VERSION {
            return aside(
                file,
                format!(
                    "heap file format {} (this build reads {FORMAT_VERSION})",
                    header.format_version
                ),
            );
        }
        // Data no one can vouch for is not worth keeping aside, whatever its shape.
        if !header.clean {
            return Self::create(file, path, shape)
                .map(|file| Found::Empty(file, EmptyReason::NotShutDownCleanly));
        }
        if let Some(difference) = header.shape.difference(&shape) {
            return aside(file, format!("the configuration changed: {difference}"));
        }
        if len != shape.regions().file_bytes {
            return Self::create(file, path, shape)
                .map(|file| Found::Empty(file, EmptyReason::ChecksumMismatch));
        }
        let opened = Self::map(file, path, shape, header)?;
        Ok(Found::Restorable(opened, header))
    }

    /// Empties `file` and sizes it for `shape`, with fresh hash keys, marked in use.
    fn create(file: File, path: &Path, shape: Shape) -> Result<HeapFile, HeapFileError> {
        let io = |what: &'static str| {
            let path = path.to_owned();
            move |error: std::io::Error| HeapFileError::Io { what, path, error }
        };
        let regions = shape.regions();
        // Truncating first drops the old pages: the new ones read as zeros.
        file.set_len(0).map_err(io("empty"))?;
        file.set_len(regions.file_bytes).map_err(io("size"))?;
        // Claim the space now: on a full tmpfs a write to a hole would kill the process
        // with SIGBUS later, where this fails at start with a clear error.
        nix::fcntl::posix_fallocate(&file, 0, regions.file_bytes as i64).map_err(|errno| {
            HeapFileError::Io {
                what: "reserve space for",
                path: path.to_owned(),
                error: std::io::Error::from(errno),
            }
        })?;
        let header = Header {
            format_version: FORMAT_VERSION,
            clean: false,
            shape,
            hash_seeds: rand::random(),
            saved_unix_ms: 0,
            saved_items: 0,
            checksum: 0,
        };
        let opened = Self::map(file, path, shape, header)?;
        opened.write_header(&header)?;
        Ok(opened)
    }

    fn map(
        file: File,
        path: &Path,
        shape: Shape,
        header: Header,
    ) -> Result<HeapFile, HeapFileError> {
        let map = MmapRaw::map_raw(&file).map_err(|error| HeapFileError::Io {
            what: "map",
            path: path.to_owned(),
            error,
        })?;
        Ok(HeapFile {
            file,
            path: path.to_owned(),
            map: Arc::new(map),
            regions: shape.regions(),
            header,
        })
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `header` to the header page and waits until the file has it.
    pub(crate) fn write_header(&self, header: &Header) -> Result<(), HeapFileError> {
        self.file
            .write_all_at(&header.encode(), 0)
            .and_then(|()| self.file.sync_data())
            .map_err(|error| self.error("write the header of", error))
    }

    /// Writes the image and waits until the file has it and every mapped page.
    pub(crate) fn write_image(&self, image: &[u8]) -> Result<(), HeapFileError> {
        self.map
            .flush()
            .map_err(|error| self.error("write the mapped index and segments of", error))?;
        self.file
            .write_all_at(image, self.regions.image_offset)
            .and_then(|()| self.file.sync_data())
            .map_err(|error| self.error("write the image of", error))
    }

    /// Reads the image written at the last clean shutdown.
    pub(crate) fn read_image(&self, len: usize) -> Result<Vec<u8>, HeapFileError> {
        let mut image = vec![0u8; len];
        self.file
            .read_exact_at(&mut image, self.regions.image_offset)
            .map_err(|error| self.error("read the image of", error))?;
        Ok(image)
    }

    /// Maps in `len_bytes` of the index (or the heap) from byte `start` on, in one
    /// call rather than a fault per page, before they are read through.
    pub(crate) fn prefault(&self, in_index: bool, start: usize, len_bytes: usize) {
        let region = if in_index {
            self.regions.index_offset
        } else {
            self.regions.heap_offset
        } as usize;
        let first = (region + start) / PAGE_BYTES * PAGE_BYTES;
        let end = region + start + len_bytes;
        // Only a hint: a kernel without MADV_POPULATE_READ faults the pages in later.
        let _ = self
            .map
            .advise_range(memmap2::Advice::PopulateRead, first, end - first);
    }

    /// Empties the file for a fresh start (after a checksum mismatch).
    pub(crate) fn reset(self) -> Result<HeapFile, HeapFileError> {
        let (path, shape) = (self.path.clone(), self.header.shape);
        let HeapFile { file, map, .. } = self;
        drop(map);
        Self::create(file, &path, shape)
    }

    fn error(&self, what: &'static str, error: std::io::Error) -> HeapFileError {
        HeapFileError::Io {
            what,
            path: self.path.clone(),
            error,
        }
    }
}

/// Opens `path` read-write (created 0600: it holds cached data) and takes its lock.
fn open_locked(path: &Path) -> Result<File, HeapFileError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|error| HeapFileError::Io {
            what: "open",
            path: path.to_owned(),
            error,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(HeapFileError::InUse {
            path: path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(error)) => Err(HeapFileError::Io {
            what: "lock",
            path: path.to_owned(),
            error,
        }),
    }
}

/// Renames the file at `path` aside (replacing an earlier one kept there).
fn keep_aside(path: &Path) -> Result<PathBuf, HeapFileError> {
    let mut kept = path.as_os_str().to_owned();
    kept.push(KEPT_ASIDE_SUFFIX);
    let kept = PathBuf::from(kept);
    std::fs::rename(path, &kept).map_err(|error| HeapFileError::Io {
        what: "rename aside",
        path: path.to_owned(),
        error,
    })?;
    Ok(kept)
}
