//! Warm restart: an engine whose index and segments live in a heap file
//! (`heap_file.rs`), the image of the rest of its state written there at a clean
//! shutdown, and the restore that reads it back and proves it whole before serving.
//!
//! ```text
//! image: | next CAS | next sequence | flush epoch, pending, reclaim | counters |
//!        | per TTL bucket: active, head, tail, length (4 x u32)              |
//!        | per segment: its bookkeeping (64 bytes, see `SegmentImage`)       |
//! ```
//!
//! What the file guarantees: a restore serves exactly the items that were linked at
//! the clean shutdown (less those that expired or were flushed since), with their
//! values, flags, expiry times and CAS values; or it serves nothing. The checksum
//! covers the image, every index word and every byte written in a segment in use, so
//! a flipped byte anywhere that matters, a torn write, or a run that never finished
//! its save (its header still says "in use") starts the engine empty.

use crate::cache::{Cache, Parts};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::HeapFileError;
use crate::expiry::TTL_BUCKET_COUNT;
use crate::heap::Heap;
use crate::heap_file::{EmptyReason, Found, HeapFile};
use crate::heap_header::{Header, Shape};
use crate::index::Index;
use crate::segment::{SegmentImage, State, NO_SEGMENT};
use crate::stats::COUNTERS;
use crate::sync::{AtomicUsize, Mutex, Ordering};
use crate::words::AtomicWords;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of the image before the TTL buckets: five words and the counters.
pub(crate) const IMAGE_HEAD_BYTES: usize = (5 + COUNTERS) * 8;
/// Bytes of one TTL bucket in the image.
pub(crate) const TTL_RECORD_BYTES: usize = 16;
/// Bytes of one segment in the image.
pub(crate) const SEGMENT_RECORD_BYTES: usize = 64;
/// Bytes hashed at a time.
const CHECKSUM_CHUNK_BYTES: usize = 64 << 10;
/// Bytes of one piece of checksum work handed to a thread.
const CHECKSUM_STRETCH_BYTES: usize = 4 << 20;
/// Most threads hashing at once.
const MAX_CHECKSUM_THREADS: usize = 8;

/// Bytes of the image of an engine with `segment_count` segments.
pub(crate) fn image_bytes(segment_count: usize) -> usize {
    IMAGE_HEAD_BYTES + TTL_BUCKET_COUNT * TTL_RECORD_BYTES + segment_count * SEGMENT_RECORD_BYTES
}

/// How an engine on a heap file started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarmStart {
    /// The last clean shutdown's items are back.
    Restored {
        /// Items linked at the shutdown (expired ones among them are never served).
        items: u64,
        /// From opening the file to ready to serve.
        elapsed: Duration,
    },
    /// The engine starts empty, for this reason.
    Empty(EmptyReason),
}

/// What a save wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveReport {
    /// Items linked when the engine stopped.
    pub items: u64,
    /// Bytes the checksum covers (image, index, written segment bytes).
    pub checksummed_bytes: u64,
    /// How long the save took.
    pub elapsed: Duration,
}

impl Cache {
    /// An engine whose index and segments live in the file at `path` (created if
    /// missing), restored from it if its last run shut down cleanly with this
    /// configuration. The file is locked until the engine drops.
    pub fn open_heap_file(
        config: Config,
        path: &Path,
    ) -> Result<(Cache, WarmStart), HeapFileError> {
        Cache::open_heap_file_with(config, path, |saved_unix_ms| {
            Arc::new(SystemClock::not_before(saved_unix_ms))
        })
    }

    /// [`Cache::open_heap_file`] on the given clock (for tests).
    pub fn open_heap_file_with_clock(
        config: Config,
        path: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<(Cache, WarmStart), HeapFileError> {
        Cache::open_heap_file_with(config, path, |_| clock)
    }

    fn open_heap_file_with(
        config: Config,
        path: &Path,
        clock_after: impl FnOnce(u64) -> Arc<dyn Clock>,
    ) -> Result<(Cache, WarmStart), HeapFileError> {
        let started = Instant::now();
        let layout = config.layout().map_err(HeapFileError::Config)?;
        let shape = Shape::of(&config, &layout);
        let (file, header) = match HeapFile::open(path, shape)? {
            Found::Empty(file, reason) => {
                let cache = Cache::over_file(config, clock_after(0), file);
                return Ok((cache, WarmStart::Empty(reason)));
            }
            Found::Restorable(file, header) => (file, header),
        };
        let cache = Cache::over_file(config.clone(), clock_after(header.saved_unix_ms), file);
        let failure = match cache.restore(&header) {
            Ok(()) => {
                let mut in_use = header;
                in_use.clean = false;
                cache.with_heap_file(|file| file.write_header(&in_use))?;
                let items = cache.item_count();
                let elapsed = started.elapsed();
                return Ok((cache, WarmStart::Restored { items, elapsed }));
            }
            Err(reason) => reason,
        };
        // Nothing of the file can be trusted: start over on an emptied one.
        let mut cache = cache;
        let file = cache
            .heap_file
            .take()
            .expect("opened on a file")
            .into_inner();
        let clock = cache.clock.clone();
        drop(cache);
        let cache = Cache::over_file(config, clock, file.reset()?);
        Ok((cache, WarmStart::Empty(failure)))
    }

    /// An engine over the mappings of `file`, with the file's hash keys.
    fn over_file(config: Config, clock: Arc<dyn Clock>, file: HeapFile) -> Cache {
        let layout = config.layout().expect("validated when the file was opened");
        let regions = file.regions;
        let heap_words = layout.segment_count * config.segment_size_bytes / 8;
        let index_words = regions.index_bytes as usize / 8;
        let heap = Heap::from_words(AtomicWords::mapped(
            file.map.clone(),
            regions.heap_offset as usize,
            heap_words,
            8,
        ));
        let index = Index::from_words(
            AtomicWords::mapped(
                file.map.clone(),
                regions.index_offset as usize,
                index_words,
                crate::index::BUCKET_BYTES,
            ),
            layout.bucket_count,
        );
        let [k0, k1, k2, k3] = file.header.hash_seeds;
        let hasher = ahash::RandomState::with_seeds(k0, k1, k2, k3);
        let mut cache = Cache::assemble(
            config,
            layout,
            clock,
            Parts {
                heap,
                index,
                hasher,
            },
        );
        cache.heap_file = Some(Mutex::new(file));
        cache
    }

    fn with_heap_file<T>(
        &self,
        run: impl FnOnce(&HeapFile) -> Result<T, HeapFileError>,
    ) -> Result<T, HeapFileError> {
        let file = self.heap_file.as_ref().ok_or(HeapFileError::NoHeapFile)?;
        run(&file.lock())
    }

    /// The heap file this engine lives in, if any.
    pub fn heap_file_path(&self) -> Option<std::path::PathBuf> {
        let file = self.heap_file.as_ref()?;
        Some(file.lock().path().to_owned())
    }

    /// Writes what the heap file does not hold yet and marks it clean, so that the
    /// next [`Cache::open_heap_file`] with this configuration restores every item.
    /// Call it once no other thread uses the engine, as the last thing before it
    /// drops: a write after it makes the file fail its checksum, so that restart
    /// starts empty. A background job still running is finished first.
    pub fn save_heap_file(&self) -> Result<SaveReport, HeapFileError> {
        let started = Instant::now();
        let file = self.heap_file.as_ref().ok_or(HeapFileError::NoHeapFile)?;
        let file = file.lock();
        self.finish_background_job()?;
        let image = self.image()?;
        let (checksum, checksummed_bytes) = self
            .checksum(&image, &file)
            .ok_or(HeapFileError::NotQuiet("a writer holds an index bucket"))?;
        file.write_image(&image)?;
        let items = self.item_count();
        let header = Header {
            clean: true,
            saved_unix_ms: self.clock.now_unix_ms(),
            saved_items: items,
            checksum,
            ..file.header
        };
        file.write_header(&header)?;
        Ok(SaveReport {
            items,
            checksummed_bytes,
            elapsed: started.elapsed(),
        })
    }

    /// Runs the background job in progress to its end, so that every segment is
    /// free or in its chain.
    fn finish_background_job(&self) -> Result<(), HeapFileError> {
        let mut maintenance = self.maintenance.lock();
        let mut progress = crate::meta::Progress::default();
        while let Some(job) = maintenance.job.as_mut() {
            let mut left = usize::MAX;
            match self.run_job(job, &mut left, &mut progress) {
                crate::evict::JobState::Done => maintenance.job = None,
                crate::evict::JobState::Running => {}
                crate::evict::JobState::Waiting => {
                    return Err(HeapFileError::NotQuiet(
                        "a writer is copying into a segment",
                    ))
                }
            }
        }
        Ok(())
    }

    /// The image of everything the mappings do not hold.
    fn image(&self) -> Result<Vec<u8>, HeapFileError> {
        let mut image = Vec::with_capacity(image_bytes(self.segments.len()));
        let put_u64 =
            |image: &mut Vec<u8>, value: u64| image.extend_from_slice(&value.to_le_bytes());
        put_u64(&mut image, self.next_cas.load(Ordering::Relaxed));
        put_u64(&mut image, self.next_sequence.load(Ordering::SeqCst));
        for word in self.flush.image() {
            put_u64(&mut image, word);
        }
        for value in self.counters.all() {
            put_u64(&mut image, value);
        }
        for bucket in 0..TTL_BUCKET_COUNT as u32 {
            for word in self.ttl.image(bucket) {
                image.extend_from_slice(&word.to_le_bytes());
            }
        }
        for meta in self.segments.iter() {
            let segment = meta.image();
            if segment.writers() != 0 {
                return Err(HeapFileError::NotQuiet(
                    "a writer is copying into a segment",
                ));
            }
            if segment.state > State::InChain as u32 {
                return Err(HeapFileError::NotQuiet("a segment is being emptied"));
            }
            encode_segment(&segment, &mut image);
        }
        debug_assert_eq!(image.len(), image_bytes(self.segments.len()));
        Ok(image)
    }

    /// Sets the engine's state from the file's image and checks the checksum.
    fn restore(&self, header: &Header) -> Result<(), EmptyReason> {
        let image_len = image_bytes(self.segments.len());
        let image = self
            .with_heap_file(|file| file.read_image(image_len))
            .map_err(|_| EmptyReason::ChecksumMismatch)?;
        let segments = self
            .decode_image(&image)
            .ok_or(EmptyReason::ChecksumMismatch)?;
        // The checksum reads segment fills from the bookkeeping just restored.
        let file = self
            .heap_file
            .as_ref()
            .expect("restoring from a file")
            .lock();
        let checksum = self.checksum(&image, &file);
        drop(file);
        let (checksum, _) = checksum.ok_or(EmptyReason::ChecksumMismatch)?;
        if checksum != header.checksum {
            return Err(EmptyReason::ChecksumMismatch);
        }
        let mut free: Vec<u32> = (0..segments)
            .map(crate::slot::segment_id_of)
            .filter(|&id| self.segment(id).state() == State::Free)
            .collect();
        free.reverse();
        self.pool.restore(free);
        self.reserve_target
            .store(self.clamp_reserve(0), Ordering::Relaxed);
        Ok(())
    }

    /// Loads the image into the engine's bookkeeping; `None` (and nothing to be
    /// trusted) if a field is out of range. Returns the segment count.
    fn decode_image(&self, image: &[u8]) -> Option<usize> {
        let mut reader = Reader {
            bytes: image,
            at: 0,
        };
        self.next_cas.store(reader.u64()?, Ordering::Relaxed);
        self.next_sequence.store(reader.u64()?, Ordering::SeqCst);
        let flush = [reader.u64()?, reader.u64()?, reader.u64()?];
        self.flush.restore(flush);
        let mut counters = [0u64; COUNTERS];
        for value in &mut counters {
            *value = reader.u64()?;
        }
        self.counters.restore(counters);
        let count = self.segments.len();
        let id_ok = |id: u32| id == NO_SEGMENT || (id as usize) < count;
        for bucket in 0..TTL_BUCKET_COUNT as u32 {
            let record = [reader.u32()?, reader.u32()?, reader.u32()?, reader.u32()?];
            let [active, head, tail, len] = record;
            if !(id_ok(active) && id_ok(head) && id_ok(tail) && len as usize <= count) {
                return None;
            }
            self.ttl.restore(bucket, record);
        }
        let segment_bytes = self.config.segment_size_bytes;
        for meta in self.segments.iter() {
            let segment = decode_segment(&mut reader)?;
            let fits = segment.reserved_bytes() <= segment_bytes
                && segment.live().1 as usize <= segment.reserved_bytes()
                && segment.writers() == 0
                && segment.state <= State::InChain as u32
                && (segment.ttl_bucket as usize) < TTL_BUCKET_COUNT
                && id_ok(segment.prev)
                && id_ok(segment.next);
            if !fits {
                return None;
            }
            meta.restore(&segment);
        }
        (reader.at == image.len()).then_some(count)
    }

    /// Checksum of the image, the index words and every written byte of each
    /// segment in use, and how many bytes that was; `None` if a writer holds an
    /// index bucket. The stretches are hashed on several threads at once and the
    /// pieces combined in file order: at start this is what keeps the first
    /// request waiting, and it reads every page of the index once.
    fn checksum(&self, image: &[u8], file: &HeapFile) -> Option<(u32, u64)> {
        let stretches = self.checksum_stretches();
        let pieces: Vec<Mutex<Option<crc32fast::Hasher>>> =
            stretches.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let held = AtomicBool::new(false);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_CHECKSUM_THREADS)
            .min(stretches.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    let mut chunk = vec![0u8; CHECKSUM_CHUNK_BYTES];
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(stretch) = stretches.get(at) else {
                            break;
                        };
                        file.prefault(stretch.in_index, stretch.start, stretch.len_bytes);
                        let piece = self.hash_stretch(stretch, &mut chunk, &held);
                        *pieces[at].lock() = Some(piece);
                    }
                });
            }
        });
        if held.load(Ordering::Relaxed) {
            return None;
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(image);
        let mut total = image.len() as u64;
        for (piece, stretch) in pieces.into_iter().zip(&stretches) {
            hasher.combine(&piece.into_inner().expect("every stretch was hashed"));
            total += stretch.len_bytes as u64;
        }
        Some((hasher.finalize(), total))
    }

    /// What the checksum covers after the image, in file order, in pieces of at
    /// most `CHECKSUM_STRETCH_BYTES`.
    fn checksum_stretches(&self) -> Vec<Stretch> {
        let mut stretches = Vec::new();
        let index_bytes = self.index.bucket_count() as usize * crate::index::BUCKET_BYTES;
        for start in (0..index_bytes).step_by(CHECKSUM_STRETCH_BYTES) {
            stretches.push(Stretch {
                in_index: true,
                start,
                len_bytes: CHECKSUM_STRETCH_BYTES.min(index_bytes - start),
            });
        }
        for (id, meta) in self.segments.iter().enumerate() {
            if meta.state() == State::Free {
                continue;
            }
            let (start, end) = (
                self.addr(crate::slot::segment_id_of(id), 0),
                meta.reserved_bytes(),
            );
            for offset in (0..end).step_by(CHECKSUM_STRETCH_BYTES) {
                stretches.push(Stretch {
                    in_index: false,
                    start: start + offset,
                    len_bytes: CHECKSUM_STRETCH_BYTES.min(end - offset),
                });
            }
        }
        stretches
    }

    /// The checksum of one stretch; sets `held` if it is index words and a bucket
    /// in them is held by a writer.
    fn hash_stretch(
        &self,
        stretch: &Stretch,
        chunk: &mut [u8],
        held: &AtomicBool,
    ) -> crc32fast::Hasher {
        let mut hasher = crc32fast::Hasher::new();
        let mut done = 0;
        while done < stretch.len_bytes {
            let len = chunk.len().min(stretch.len_bytes - done);
            if stretch.in_index {
                let first_word = (stretch.start + done) / 8;
                if !self.index.copy_words(first_word, &mut chunk[..len]) {
                    held.store(true, Ordering::Relaxed);
                }
            } else {
                self.heap.read(stretch.start + done, &mut chunk[..len]);
            }
            hasher.update(&chunk[..len]);
            done += len;
        }
        hasher
    }
}

/// A stretch of index (byte offsets in the index) or heap (heap addresses).
struct Stretch {
    in_index: bool,
    start: usize,
    len_bytes: usize,
}

pub(crate) fn encode_segment(segment: &SegmentImage, image: &mut Vec<u8>) {
    for word in [
        segment.fill,
        segment.live,
        segment.cas_base,
        segment.epoch,
        segment.order,
    ] {
        image.extend_from_slice(&word.to_le_bytes());
    }
    for word in [
        segment.max_expiry_unix_secs,
        segment.time_base_unix_secs,
        segment.ttl_bucket,
        segment.state,
        segment.prev,
        segment.next,
    ] {
        image.extend_from_slice(&word.to_le_bytes());
    }
}

pub(crate) fn decode_segment(reader: &mut Reader<'_>) -> Option<SegmentImage> {
    Some(SegmentImage {
        fill: reader.u64()?,
        live: reader.u64()?,
        cas_base: reader.u64()?,
        epoch: reader.u64()?,
        order: reader.u64()?,
        max_expiry_unix_secs: reader.u32()?,
        time_base_unix_secs: reader.u32()?,
        ttl_bucket: reader.u32()?,
        state: reader.u32()?,
        prev: reader.u32()?,
        next: reader.u32()?,
    })
}

/// Reads little-endian numbers off the image in order.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let bytes = self.bytes.get(self.at..self.at + N)?;
        self.at += N;
        bytes.try_into().ok()
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
}
