//! The vector index file format, version 1. All integers little-endian.
//!
//! ```text
//! offset  size             field
//! 0       8                magic "KSVINDEX"
//! 8       4                format version (1)
//! 12      4                flags: bit 0 = verify reachability; other bits must be 0
//! 16      4                dimension
//! 20      4                max_connections (HNSW M)
//! 24      4                ef_construction
//! 28      4                ef_search
//! 32      8                exact_threshold
//! 40      4                rebuild_fraction (f32 bits)
//! 44      4                reserved, 0
//! 48      8                count: vectors in the file
//! 56      8                metadata_len: bytes of metadata JSON
//! 64      8 × count        ids (u64)
//!         4 × dim × count  vectors (f32, unit length, slot order)
//!         metadata_len     metadata: a JSON array of `count` objects of strings
//! end-8   8                checksum: FNV-1a 64 of every byte before it
//! ```
//!
//! Only live vectors are written, in slot order; loading inserts them into a new graph in
//! that order, which reproduces the graph a fresh index built from them has.
//!
//! Why not `hnsw_rs`'s `file_dump`: it needs a directory and two files, writes native-endian
//! data, and its reload allocates buffers of lengths read from the file, slices vectors by
//! the declared dimension without checking it against the record length, and calls
//! `std::process::exit` on some malformed input. Rebuilding the graph costs about a second
//! per 10,000 vectors of dimension 384 (measured in `benches/vector_index.rs`).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use super::{IndexConfig, Metadata, VectorIndex};
use crate::{Error, Result};

const MAGIC: [u8; 8] = *b"KSVINDEX";
const VERSION: u32 = 1;
const HEADER_LEN: u64 = 64;
const CHECKSUM_LEN: u64 = 8;
const FLAG_VERIFY: u32 = 1;

/// What is wrong with a vector index file (inside [`Error::IndexFile`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexFileProblem {
    /// The file does not start with the index's magic bytes.
    #[error("not a KubeSage vector index (wrong magic bytes)")]
    NotAnIndex,
    /// The file is of a format version this build cannot read.
    #[error("format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file is shorter than its header says.
    #[error("truncated: {actual} bytes where the header describes {expected}")]
    Truncated {
        /// Bytes the header calls for.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The stored checksum does not match the contents.
    #[error("checksum mismatch: stored {stored:016x}, computed {computed:016x}")]
    ChecksumMismatch {
        /// The checksum in the file.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// The contents are inconsistent: bad settings, duplicate ids, vectors that are not unit
    /// length, malformed metadata, trailing bytes.
    #[error("corrupt: {0}")]
    Corrupt(String),
}

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hash: Fnv1a,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hash: Fnv1a,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

fn file_error(path: &Path, problem: IndexFileProblem) -> Error {
    Error::IndexFile { path: path.to_path_buf(), problem }
}

fn to_u32(value: usize, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::IndexConfig(format!("{what} {value} does not fit the file format")))
}

pub(super) fn save(index: &VectorIndex, path: &Path) -> Result<()> {
    let config = &index.config;
    let live: Vec<usize> = (0..index.ids.len()).filter(|&s| index.live[s]).collect();
    let metadata: Vec<&Metadata> = live.iter().map(|&s| &index.metadata[s]).collect();
    let metadata = serde_json::to_vec(&metadata).map_err(|e| io_error(path)(io::Error::other(e)))?;

    let mut header = Vec::with_capacity(HEADER_LEN as usize);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&(if config.verify_reachability { FLAG_VERIFY } else { 0 }).to_le_bytes());
    header.extend_from_slice(&to_u32(config.dim, "dimension")?.to_le_bytes());
    header.extend_from_slice(&to_u32(config.max_connections, "max_connections")?.to_le_bytes());
    header.extend_from_slice(&to_u32(config.ef_construction, "ef_construction")?.to_le_bytes());
    header.extend_from_slice(&to_u32(config.ef_search, "ef_search")?.to_le_bytes());
    header.extend_from_slice(&(config.exact_threshold as u64).to_le_bytes());
    header.extend_from_slice(&config.rebuild_fraction.to_bits().to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&(live.len() as u64).to_le_bytes());
    header.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    debug_assert_eq!(header.len() as u64, HEADER_LEN);

    let mut tmp_name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = write_file(&tmp, &header, index, &live, &metadata).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io_error(path))
}

fn write_file(tmp: &Path, header: &[u8], index: &VectorIndex, live: &[usize], metadata: &[u8]) -> io::Result<()> {
    let file = File::create(tmp)?;
    let mut out = HashingWriter { inner: BufWriter::with_capacity(1 << 16, file), hash: Fnv1a::new() };
    out.write_all(header)?;
    for &slot in live {
        out.write_all(&index.ids[slot].to_le_bytes())?;
    }
    for &slot in live {
        for v in index.slot_vector(slot) {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.write_all(metadata)?;
    let checksum = out.hash.0;
    let mut inner = out.inner;
    inner.write_all(&checksum.to_le_bytes())?;
    let file = inner.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()
}

/// Little-endian fields of the header, read in order.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn u32(&mut self) -> u32 {
        let (head, rest) = self.0.split_at(4);
        self.0 = rest;
        u32::from_le_bytes([head[0], head[1], head[2], head[3]])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
}

pub(super) fn load(path: &Path) -> Result<VectorIndex> {
    let io_err = io_error(path);
    let bad = |problem| file_error(path, problem);
    let corrupt = |msg: String| file_error(path, IndexFileProblem::Corrupt(msg));
    let file = File::open(path).map_err(&io_err)?;
    let actual = file.metadata().map_err(&io_err)?.len();
    let mut input = HashingReader { inner: BufReader::with_capacity(1 << 16, file), hash: Fnv1a::new() };

    // Header: as much of it as the file has, checked field by field.
    let mut header = [0u8; HEADER_LEN as usize];
    let have = actual.min(HEADER_LEN) as usize;
    input.read_exact(&mut header[..have]).map_err(&io_err)?;
    let magic_have = have.min(MAGIC.len());
    if header[..magic_have] != MAGIC[..magic_have] {
        return Err(bad(IndexFileProblem::NotAnIndex));
    }
    let minimum = HEADER_LEN + CHECKSUM_LEN;
    if have < 12 {
        return Err(bad(IndexFileProblem::Truncated { expected: minimum, actual }));
    }
    let mut fields = Fields(&header[8..]);
    let version = fields.u32();
    if version != VERSION {
        return Err(bad(IndexFileProblem::UnsupportedVersion { found: version, supported: VERSION }));
    }
    if actual < minimum {
        return Err(bad(IndexFileProblem::Truncated { expected: minimum, actual }));
    }
    let flags = fields.u32();
    let dim = fields.u32() as usize;
    let max_connections = fields.u32() as usize;
    let ef_construction = fields.u32() as usize;
    let ef_search = fields.u32() as usize;
    let exact_threshold = usize::try_from(fields.u64()).unwrap_or(usize::MAX);
    let rebuild_fraction = f32::from_bits(fields.u32());
    let reserved = fields.u32();
    let count = fields.u64();
    let metadata_len = fields.u64();
    if flags & !FLAG_VERIFY != 0 || reserved != 0 {
        return Err(corrupt(format!("unknown flags {flags:#x} or reserved field {reserved:#x}")));
    }
    let config = IndexConfig {
        dim,
        max_connections,
        ef_construction,
        ef_search,
        exact_threshold,
        rebuild_fraction,
        verify_reachability: flags & FLAG_VERIFY != 0,
    };
    config.validate().map_err(|e| corrupt(e.to_string()))?;

    // Every length is checked against the file's before anything is allocated.
    let sizes = count
        .checked_mul(8)
        .zip(count.checked_mul(4 * dim as u64))
        .and_then(|(ids, vectors)| ids.checked_add(vectors))
        .and_then(|body| body.checked_add(metadata_len))
        .and_then(|body| body.checked_add(minimum));
    let Some(expected) = sizes else {
        return Err(bad(IndexFileProblem::Truncated { expected: u64::MAX, actual }));
    };
    if expected > actual {
        return Err(bad(IndexFileProblem::Truncated { expected, actual }));
    }
    if expected < actual {
        return Err(corrupt(format!("{} bytes after the checksum", actual - expected)));
    }
    let count = count as usize;

    let mut ids = Vec::with_capacity(count);
    read_chunks(&mut input, count * 8, |b| ids.push(u64::from_le_bytes(b.try_into().unwrap_or_default())), 8)
        .map_err(&io_err)?;
    let mut vectors = Vec::with_capacity(count * dim);
    read_chunks(&mut input, count * dim * 4, |b| vectors.push(f32::from_le_bytes(b.try_into().unwrap_or_default())), 4)
        .map_err(&io_err)?;
    let mut metadata = vec![0u8; metadata_len as usize];
    input.read_exact(&mut metadata).map_err(&io_err)?;
    let computed = input.hash.0;
    let mut stored = [0u8; 8];
    input.inner.read_exact(&mut stored).map_err(&io_err)?;
    let stored = u64::from_le_bytes(stored);
    if stored != computed {
        return Err(bad(IndexFileProblem::ChecksumMismatch { stored, computed }));
    }

    // The contents: unique ids, finite unit vectors, one metadata object per vector.
    let metadata: Vec<Metadata> = serde_json::from_slice(&metadata).map_err(|e| corrupt(format!("metadata: {e}")))?;
    if metadata.len() != count {
        return Err(corrupt(format!("{} metadata objects for {count} vectors", metadata.len())));
    }
    let mut index = VectorIndex::with_config(config).map_err(|e| corrupt(e.to_string()))?;
    index.vectors.reserve_exact(count * dim);
    for (slot, (id, meta)) in ids.into_iter().zip(metadata).enumerate() {
        let vector = &vectors[slot * dim..(slot + 1) * dim];
        let norm: f64 = vector.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        if !norm.is_finite() || (norm - 1.0).abs() > 1e-3 {
            return Err(corrupt(format!("vector {slot} (id {id}) is not of unit length")));
        }
        if index.contains(id) {
            return Err(corrupt(format!("id {id} appears twice")));
        }
        index.push_slot(id, vector, meta);
    }
    if index.len() >= index.config.exact_threshold {
        index.build_graph();
    }
    Ok(index)
}

/// Reads `len` bytes in blocks, handing each `width`-byte record to `record`.
fn read_chunks(input: &mut impl Read, len: usize, mut record: impl FnMut(&[u8]), width: usize) -> io::Result<()> {
    let mut buf = vec![0u8; (1 << 16).min(len)];
    let mut left = len;
    while left > 0 {
        let n = buf.len().min(left);
        input.read_exact(&mut buf[..n])?;
        buf[..n].chunks_exact(width).for_each(&mut record);
        left -= n;
    }
    Ok(())
}
