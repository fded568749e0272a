//! CIFAR-10 binary batches: records of one label byte (0..9) and 3,072 pixel bytes — the red,
//! green and blue 32×32 planes, row-major — 10,000 records per file. Training is
//! `data_batch_1.bin`…`data_batch_5.bin`, test is `test_batch.bin`.

use std::path::Path;

use super::bytes::Bytes;
use super::{ImageDataError, ImageSet, Split, scale};
use crate::limits;

/// Image side.
const SIDE: usize = 32;
/// Pixel bytes per record: three planes.
const PIXELS: usize = 3 * SIDE * SIDE;
/// Bytes per record: the label, then the pixels.
const RECORD: usize = 1 + PIXELS;
/// Classes of CIFAR-10.
const CLASSES: usize = 10;
/// The folder the official archive `cifar-10-binary.tar.gz` unpacks to.
const ARCHIVE_DIR: &str = "cifar-10-batches-bin";

/// Loads one split from `dir` (or from `dir/cifar-10-batches-bin`).
pub fn load(dir: &Path, split: Split) -> Result<ImageSet, ImageDataError> {
    let names: Vec<String> = match split {
        Split::Train => (1..=5).map(|k| format!("data_batch_{k}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".into()],
    };
    let folder = [dir.to_path_buf(), dir.join(ARCHIVE_DIR)]
        .into_iter()
        .find(|d| d.join(&names[0]).is_file())
        .unwrap_or_else(|| dir.to_path_buf());
    let missing: Vec<String> = names
        .iter()
        .filter(|name| !folder.join(name).is_file())
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(ImageDataError::Missing {
            dir: folder,
            what: format!("CIFAR-10 {} batch", split.name()),
            looked_for: missing,
            hint: format!(
                "unpack the binary version (cifar-10-binary.tar.gz) into this folder or its \
                 `{ARCHIVE_DIR}` subfolder"
            ),
        });
    }
    let mut set = empty_set();
    for name in &names {
        let path = folder.join(name);
        let raw = super::bytes::read_file(&path)?;
        batch_from(&path, raw, &mut set)?;
    }
    Ok(set)
}

/// A CIFAR-10 set (3×32×32, 10 classes) without images, for [`batch_from`] to fill.
pub fn empty_set() -> ImageSet {
    ImageSet {
        name: String::new(),
        channels: 3,
        height: SIDE,
        width: SIDE,
        pixels: Vec::new(),
        labels: Vec::new(),
        classes: CLASSES,
    }
}

/// Appends the records of one batch file, `raw` (gzipped or not; `path` names it in errors), to
/// `set`, a 32×32×3 set; the pixels of the whole set must stay within [`limits::fits`]. The
/// format has no header, so a gzip stream is inflated at most as far as those pixels may go.
pub fn batch_from(path: &Path, raw: Vec<u8>, set: &mut ImageSet) -> Result<(), ImageDataError> {
    let mut bytes = Bytes::from_raw(path, raw);
    let room = (limits::max_bytes() / 4).saturating_sub(set.pixels.len() as u64);
    bytes.read_all(
        room / PIXELS as u64 * RECORD as u64,
        "the records whose pixels fit in half of this machine's memory as f32",
    )?;
    let n = bytes.data().len() / RECORD;
    if bytes.data().is_empty() {
        return Err(bytes.header_error(0, "the file is empty; download it again".into()));
    }
    // A partial last record is a truncation: ask for one record more than the file holds whole.
    let whole = if bytes.data().len().is_multiple_of(RECORD) {
        n
    } else {
        n + 1
    };
    let data = bytes.records(whole, RECORD, |i| {
        format!("record {i} (label and 32×32×3 pixels)")
    })?;
    limits::fits(
        "the pixels of the split as f32",
        (set.pixels.len() + n * PIXELS) as u128,
        4,
    )
    .map_err(|message| ImageDataError::Limit {
        path: path.to_path_buf(),
        message,
    })?;
    set.pixels.reserve(n * PIXELS);
    set.labels.reserve(n);
    for (i, record) in data.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        if usize::from(label) >= CLASSES {
            return Err(ImageDataError::LabelOutOfRange {
                path: path.to_path_buf(),
                gzip: bytes.gzip(),
                offset: (i * RECORD) as u64,
                label: u32::from(label),
                classes: CLASSES,
            });
        }
        set.labels.push(label);
        set.pixels
            .extend(record[1..].iter().map(|&v| scale(v, 255.0)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of `labels.len()` records; pixel `p` of record `i` is `(i + p) mod 256`.
    fn batch(labels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &l) in labels.iter().enumerate() {
            out.push(l);
            out.extend((0..PIXELS).map(|p| ((i + p) % 256) as u8));
        }
        out
    }

    #[test]
    fn test_batch_decodes_planes_and_labels() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("test_batch.bin"), batch(&[6, 9, 0])).expect("write");
        let set = load(dir.path(), Split::Test).expect("load");
        assert_eq!(
            (set.len(), set.channels, set.height, set.width),
            (3, 3, 32, 32)
        );
        assert_eq!(set.labels, vec![6, 9, 0]);
        assert_eq!(set.classes, 10);
        // Record 1, green plane (1024..2048), row 2, column 5: byte (1 + 1024 + 69) mod 256 = 70.
        let green = &set.image(1)[SIDE * SIDE..2 * SIDE * SIDE];
        assert_eq!(green[2 * SIDE + 5], scale(70, 255.0));
        assert_eq!(set.image(0)[0], -1.0);
        assert_eq!(set.image(0)[255], 1.0);
    }

    #[test]
    fn train_reads_five_batches_in_order_from_the_archive_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner = dir.path().join(ARCHIVE_DIR);
        std::fs::create_dir(&inner).expect("mkdir");
        for k in 1..=5u8 {
            let path = inner.join(format!("data_batch_{k}.bin"));
            std::fs::write(path, batch(&[k, k - 1])).expect("write");
        }
        let set = load(dir.path(), Split::Train).expect("load");
        assert_eq!(set.len(), 10);
        assert_eq!(set.labels, vec![1, 0, 2, 1, 3, 2, 4, 3, 5, 4]);
        assert_eq!(set.class_counts(), vec![1, 2, 2, 2, 2, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn missing_batches_are_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("data_batch_1.bin"), batch(&[0])).expect("write");
        std::fs::write(dir.path().join("data_batch_3.bin"), batch(&[0])).expect("write");
        let msg = load(dir.path(), Split::Train)
            .expect_err("missing")
            .to_string();
        assert!(
            msg.contains(
                "no CIFAR-10 train batch found; looked for data_batch_2.bin, data_batch_4.bin, \
                 data_batch_5.bin"
            ),
            "{msg}"
        );
    }

    #[test]
    fn truncated_record_and_bad_label_name_file_and_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("test_batch.bin");
        let mut data = batch(&[1, 2, 3]);
        data.truncate(2 * RECORD + 1000);
        std::fs::write(&path, &data).expect("write");
        let msg = load(dir.path(), Split::Test)
            .expect_err("truncated")
            .to_string();
        assert!(
            msg.contains(
                "test_batch.bin: truncated at byte 7146: expected 2073 more bytes of record 2"
            ),
            "{msg}"
        );

        std::fs::write(&path, batch(&[1, 10, 3])).expect("write");
        let msg = load(dir.path(), Split::Test)
            .expect_err("label")
            .to_string();
        assert!(
            msg.contains("test_batch.bin: byte 3073: label 10 is out of range 0..10"),
            "{msg}"
        );
    }
}
