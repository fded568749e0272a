//! Reading a binary data file: gunzip when it starts with the gzip magic, then read fields and
//! fixed-size records with errors that name the file and the byte offset. Only regular files are
//! opened, and neither a file nor what it decompresses to may exceed [`limits::max_bytes`].

use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::ImageDataError;
use crate::limits;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The (decompressed) bytes of one file and a read position.
#[derive(Debug)]
pub(super) struct Bytes {
    path: PathBuf,
    data: Vec<u8>,
    gzip: bool,
    pos: usize,
}

impl Bytes {
    /// Reads `path`, gunzipping it when its first bytes are the gzip magic (whatever its name).
    pub fn read(path: &Path) -> Result<Self, ImageDataError> {
        read_file(path).and_then(|raw| Self::from_raw(path, raw))
    }

    /// As [`Bytes::read`], for bytes already in memory; `path` names them in errors.
    pub fn from_raw(path: &Path, raw: Vec<u8>) -> Result<Self, ImageDataError> {
        let gzip = raw.starts_with(&GZIP_MAGIC);
        let data = if gzip {
            gunzip(path, &raw, limits::max_bytes())?
        } else {
            raw
        };
        Ok(Self {
            path: path.to_path_buf(),
            data,
            gzip,
            pos: 0,
        })
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

    /// All (decompressed) bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
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
        let left = self.data.len() - self.pos;
        if left < n {
            return Err(self.truncated((n - left) as u64, what()));
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.data[start..self.pos])
    }

    /// Reads `count` records of `len` bytes each, all at once. When the file is short, the error
    /// names the first incomplete record (`what(index)`) and the bytes it lacks.
    pub fn records(
        &mut self,
        count: usize,
        len: usize,
        what: impl FnOnce(usize) -> String,
    ) -> Result<&[u8], ImageDataError> {
        let left = self.data.len() - self.pos;
        let need = count.saturating_mul(len);
        if left < need {
            let index = left / len.max(1);
            return Err(self.truncated((len - left % len.max(1)) as u64, what(index)));
        }
        let start = self.pos;
        self.pos += need;
        Ok(&self.data[start..self.pos])
    }

    /// Fails when bytes are left after the data the header declares (`what`).
    pub fn finish(&self, what: impl FnOnce() -> String) -> Result<(), ImageDataError> {
        let extra = self.data.len() - self.pos;
        if extra == 0 {
            return Ok(());
        }
        Err(ImageDataError::Trailing {
            path: self.path.clone(),
            gzip: self.gzip,
            offset: self.pos as u64,
            extra: extra as u64,
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

/// Decompresses a whole gzip stream (all members), refusing to go past `max` bytes: a
/// decompression bomb is stopped when it crosses the limit, not when memory runs out.
fn gunzip(path: &Path, raw: &[u8], max: u64) -> Result<Vec<u8>, ImageDataError> {
    let capacity = (raw.len() as u64).saturating_mul(4).min(max);
    let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(usize::MAX));
    let mut decoder = flate2::read::MultiGzDecoder::new(raw);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) if (out.len() + n) as u64 > max => {
                return Err(ImageDataError::Limit {
                    path: path.to_path_buf(),
                    message: format!(
                        "decompresses to more than {} ({} compressed); at most {} is read \
                         (half of this machine's memory) — this is not a data set file",
                        limits::human(u128::from(max) + 1),
                        limits::human(raw.len() as u128),
                        limits::human(u128::from(max))
                    ),
                });
            }
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(ImageDataError::Gzip {
                    path: path.to_path_buf(),
                    decompressed: out.len() as u64,
                    source,
                });
            }
        }
    }
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
        let plain = Bytes::from_raw(Path::new("x.gz"), data.clone()).expect("raw");
        assert!(!plain.gzip());
        assert_eq!(plain.data(), &data[..]);
        let packed = Bytes::from_raw(Path::new("x.bin"), gz(&data)).expect("gz");
        assert!(packed.gzip());
        assert_eq!(packed.data(), &data[..]);
    }

    #[test]
    fn cut_gzip_names_file_and_decompressed_bytes() {
        let data = vec![7u8; 100_000];
        let mut packed = gz(&data);
        packed.truncate(packed.len() / 2);
        let err = Bytes::from_raw(Path::new("cut.gz"), packed)
            .expect_err("a cut gzip stream is an error");
        let msg = err.to_string();
        assert!(msg.starts_with("cut.gz: unreadable gzip stream"), "{msg}");
        assert!(matches!(err, ImageDataError::Gzip { .. }));
    }

    #[test]
    fn a_gzip_bomb_is_stopped_at_the_limit() {
        // 10 MB of zeros compress to ~10 KB; a limit of 1 MB refuses them after ~1 MB.
        let packed = gz(&vec![0u8; 10_000_000]);
        let err = gunzip(Path::new("bomb.gz"), &packed, 1_000_000).expect_err("over the limit");
        let msg = err.to_string();
        assert!(
            msg.starts_with("bomb.gz: decompresses to more than 976.6 KiB"),
            "{msg}"
        );
        assert!(matches!(err, ImageDataError::Limit { .. }));
        assert_eq!(
            gunzip(Path::new("ok.gz"), &packed, 10_000_000)
                .expect("at the limit")
                .len(),
            10_000_000
        );
    }

    #[test]
    fn records_report_the_first_incomplete_one() {
        let mut b = Bytes::from_raw(Path::new("r.bin"), vec![0u8; 2 + 10 + 3]).expect("raw");
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
