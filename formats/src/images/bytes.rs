//! Reading a binary data file: gunzip when it starts with the gzip magic, then read fields and
//! fixed-size records with errors that name the file and the byte offset. Only regular files are
//! opened, and neither a file nor what it decompresses to may exceed [`limits::max_bytes`].
//!
//! A gzip stream is inflated only as far as the reader asks: a header is read from its first
//! bytes, the data it declares (checked against the limits) is inflated next, and one byte past
//! it says whether the file goes on. A decompression bomb behind a small header is refused after
//! the declared size and one byte, never inflated to the limit.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::error::ImageDataError;
use crate::limits;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The (decompressed) bytes of one file and a read position.
#[derive(Debug)]
pub(super) struct Bytes {
    path: PathBuf,
    /// The bytes read so far: the whole of a plain file, the inflated part of a gzip stream.
    data: Vec<u8>,
    /// What is left of a gzip stream to inflate; `None` for a plain file or once it has ended.
    stream: Option<MultiGzDecoder<Cursor<Vec<u8>>>>,
    /// Length of the file as stored (compressed, for a gzip stream).
    stored: u64,
    gzip: bool,
    pos: usize,
}

impl Bytes {
    /// Reads `path`, gunzipping it when its first bytes are the gzip magic (whatever its name).
    pub fn read(path: &Path) -> Result<Self, ImageDataError> {
        read_file(path).map(|raw| Self::from_raw(path, raw))
    }

    /// As [`Bytes::read`], for bytes already in memory; `path` names them in errors. Nothing is
    /// inflated yet.
    pub fn from_raw(path: &Path, raw: Vec<u8>) -> Self {
        let gzip = raw.starts_with(&GZIP_MAGIC);
        let stored = raw.len() as u64;
        let (data, stream) = match gzip {
            true => (Vec::new(), Some(MultiGzDecoder::new(Cursor::new(raw)))),
            false => (raw, None),
        };
        Self {
            path: path.to_path_buf(),
            data,
            stream,
            stored,
            gzip,
            pos: 0,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file was gzipped (offsets then count decompressed bytes).
    pub fn gzip(&self) -> bool {
        self.gzip
    }

    /// The read position.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes read so far: all of them after [`Bytes::read_all`].
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Inflates the whole gzip stream, refusing to go past `max` bytes (a decompression bomb is
    /// stopped one byte past `max`, not when memory runs out); `max_note` says where `max` comes
    /// from. A plain file is already read whole.
    pub fn read_all(&mut self, max: u64, max_note: &str) -> Result<(), ImageDataError> {
        let bound = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
        self.inflate_to(bound)?;
        if !self.gzip || self.data.len() as u64 <= max {
            return Ok(());
        }
        Err(ImageDataError::Limit {
            path: self.path.clone(),
            message: format!(
                "decompresses to more than {} ({} compressed); at most {} is read ({max_note}) \
                 — this is not a data set file",
                limits::human(u128::from(max)),
                limits::human(u128::from(self.stored)),
                limits::human(u128::from(max))
            ),
        })
    }

    /// Reads a big-endian `u32`; `what` names the field in a truncation error.
    pub fn u32_be(&mut self, what: &str) -> Result<u32, ImageDataError> {
        let b = self.take(4, || what.to_string())?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads the next `n` bytes; `what` names them in a truncation error.
    pub fn take(
        &mut self,
        n: usize,
        what: impl FnOnce() -> String,
    ) -> Result<&[u8], ImageDataError> {
        self.declared(self.pos.saturating_add(n))?;
        let left = self.data.len() - self.pos;
        if left < n {
            return Err(self.truncated((n - left) as u64, what()));
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.data[start..self.pos])
    }

    /// Reads `count` records of `len` bytes each, all at once. When the file is short, the error
    /// names the first incomplete record (`what(index)`) and the bytes it lacks. A gzip stream is
    /// inflated up to the end of the last record, no further, once that size is within
    /// [`limits::max_bytes`].
    pub fn records(
        &mut self,
        count: usize,
        len: usize,
        what: impl FnOnce(usize) -> String,
    ) -> Result<&[u8], ImageDataError> {
        let need = count.saturating_mul(len);
        self.declared(self.pos.saturating_add(need))?;
        let left = self.data.len() - self.pos;
        if left < need {
            let index = left / len.max(1);
            return Err(self.truncated((len - left % len.max(1)) as u64, what(index)));
        }
        let start = self.pos;
        self.pos += need;
        Ok(&self.data[start..self.pos])
    }

    /// Fails when bytes are left after the data the header declares (`what`); a gzip stream is
    /// inflated by one byte past it to tell.
    pub fn finish(&mut self, what: impl FnOnce() -> String) -> Result<(), ImageDataError> {
        self.inflate_to(self.pos.saturating_add(1))?;
        let extra = self.data.len() - self.pos;
        if extra == 0 {
            return Ok(());
        }
        Err(ImageDataError::Trailing {
            path: self.path.clone(),
            gzip: self.gzip,
            offset: self.pos as u64,
            // A plain file's extra bytes are all counted; a gzip stream's only begin.
            extra: (!self.gzip).then_some(extra as u64),
            what: what(),
        })
    }

    /// A header error at `offset`.
    pub fn header_error(&self, offset: usize, message: String) -> ImageDataError {
        ImageDataError::Header {
            path: self.path.clone(),
            gzip: self.gzip,
            offset: offset as u64,
            message,
        }
    }

    /// Makes the first `end` bytes, which the file declares, available (or all there are): a
    /// gzip stream is inflated that far, once `end` is known to be within
    /// [`limits::max_bytes`].
    fn declared(&mut self, end: usize) -> Result<(), ImageDataError> {
        if self.stream.is_none() || end <= self.data.len() {
            return Ok(());
        }
        let max = limits::max_bytes();
        if end as u64 > max {
            return Err(ImageDataError::Limit {
                path: self.path.clone(),
                message: format!(
                    "its header declares {} of data (after gunzip), but at most {} is read \
                     (half of this machine's memory) — this is not a data set file",
                    limits::human(end as u128),
                    limits::human(u128::from(max))
                ),
            });
        }
        self.inflate_to(end)
    }

    /// Inflates the gzip stream until `end` bytes are read or the stream ends, never further.
    fn inflate_to(&mut self, end: usize) -> Result<(), ImageDataError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let Some(want) = end.checked_sub(self.data.len()).filter(|&w| w > 0) else {
            return Ok(());
        };
        let want = want as u64;
        let read = Read::take(&mut *stream, want).read_to_end(&mut self.data);
        match read {
            Ok(got) if (got as u64) < want => {
                self.stream = None;
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(source) => {
                self.stream = None;
                Err(ImageDataError::Gzip {
                    path: self.path.clone(),
                    decompressed: self.data.len() as u64,
                    source,
                })
            }
        }
    }

    fn truncated(&self, missing: u64, what: String) -> ImageDataError {
        ImageDataError::Truncated {
            path: self.path.clone(),
            gzip: self.gzip,
            offset: self.data.len() as u64,
            missing,
            what,
        }
    }
}

/// The bytes of the regular file `path`, refused before opening when it is not a regular file
/// or is larger than [`limits::max_bytes`].
pub(super) fn read_file(path: &Path) -> Result<Vec<u8>, ImageDataError> {
    limits::regular_file(path).map_err(|message| ImageDataError::Limit {
        path: path.to_path_buf(),
        message,
    })?;
    std::fs::read(path).map_err(|source| ImageDataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    #[test]
    fn gzip_is_detected_by_magic_not_name() {
        let data: Vec<u8> = (0..=255).collect();
        let plain = Bytes::from_raw(Path::new("x.gz"), data.clone());
        assert!(!plain.gzip());
        assert_eq!(plain.data(), &data[..]);
        let mut packed = Bytes::from_raw(Path::new("x.bin"), gz(&data));
        assert!(packed.gzip());
        assert!(
            packed.data().is_empty(),
            "nothing is inflated before it is asked for"
        );
        packed.read_all(1 << 20, "a test limit").expect("gz");
        assert_eq!(packed.data(), &data[..]);
    }

    #[test]
    fn cut_gzip_names_file_and_decompressed_bytes() {
        let data = vec![7u8; 100_000];
        let mut packed = gz(&data);
        packed.truncate(packed.len() / 2);
        let err = Bytes::from_raw(Path::new("cut.gz"), packed)
            .read_all(1 << 20, "a test limit")
            .expect_err("a cut gzip stream is an error");
        let msg = err.to_string();
        assert!(msg.starts_with("cut.gz: unreadable gzip stream"), "{msg}");
        assert!(matches!(err, ImageDataError::Gzip { .. }));
    }

    #[test]
    fn a_gzip_bomb_is_stopped_at_the_limit() {
        // 10 MB of zeros compress to ~10 KB; a limit of 1 MB refuses them one byte past 1 MB.
        let packed = gz(&vec![0u8; 10_000_000]);
        let mut bomb = Bytes::from_raw(Path::new("bomb.gz"), packed.clone());
        let err = bomb
            .read_all(1_000_000, "a test limit")
            .expect_err("over the limit");
        let msg = err.to_string();
        assert!(
            msg.starts_with("bomb.gz: decompresses to more than 976.6 KiB"),
            "{msg}"
        );
        assert!(msg.contains("(a test limit)"), "{msg}");
        assert!(matches!(err, ImageDataError::Limit { .. }));
        assert_eq!(
            bomb.data().len(),
            1_000_001,
            "inflated one byte past the limit"
        );
        let mut ok = Bytes::from_raw(Path::new("ok.gz"), packed);
        ok.read_all(10_000_000, "a test limit")
            .expect("at the limit");
        assert_eq!(ok.data().len(), 10_000_000);
    }

    /// Records are inflated up to their declared end and no further; `finish` looks one byte
    /// past it.
    #[test]
    fn declared_records_bound_the_inflation() {
        let mut b = Bytes::from_raw(Path::new("r.gz"), gz(&vec![3u8; 1_000_000]));
        assert_eq!(b.take(4, || "head".into()).expect("head"), &[3u8; 4]);
        assert_eq!(b.data().len(), 4);
        assert_eq!(
            b.records(10, 6, |i| format!("record {i}"))
                .expect("records")
                .len(),
            60
        );
        assert_eq!(b.data().len(), 64);
        let err = b.finish(|| "10 records".into()).expect_err("more follows");
        assert_eq!(b.data().len(), 65);
        assert_eq!(
            err.to_string(),
            "r.gz: more bytes from byte 64 (after gunzip) on, after the 64 bytes the header \
             declares (10 records); the header does not match the data — the file is damaged"
        );
    }

    #[test]
    fn records_report_the_first_incomplete_one() {
        let mut b = Bytes::from_raw(Path::new("r.bin"), vec![0u8; 2 + 10 + 3]);
        b.take(2, || "head".into()).expect("head");
        let err = b
            .records(4, 5, |i| format!("record {i}"))
            .expect_err("short");
        match err {
            ImageDataError::Truncated {
                offset,
                missing,
                what,
                ..
            } => {
                assert_eq!(offset, 15);
                assert_eq!(missing, 2);
                assert_eq!(what, "record 2");
            }
            other => panic!("unexpected {other}"),
        }
    }
}
