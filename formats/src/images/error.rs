//! Errors of the image loaders. Every message names the file (or folder) at fault, the byte offset
//! for format problems, and what to do about it.

use std::path::PathBuf;

/// An image data set that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ImageDataError {
    /// None of the file names a loader looks for exists.
    #[error("{dir}: no {what} found; looked for {}; {hint}", .looked_for.join(", "))]
    Missing {
        /// The folder searched.
        dir: PathBuf,
        /// What was looked for ("training images", "test batch", …).
        what: String,
        /// The file names tried, in order.
        looked_for: Vec<String>,
        /// How to get the files.
        hint: String,
    },
    /// A file or folder could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file, or what it decompresses or decodes to, exceeds a resource limit
    /// ([`crate::limits`]).
    #[error("{path}: {message}")]
    Limit {
        /// The file (or folder).
        path: PathBuf,
        /// What is too large, the size and the limit.
        message: String,
    },
    /// A file starts like gzip but does not decompress.
    #[error(
        "{path}: unreadable gzip stream after {decompressed} decompressed bytes: {source}; \
         the file is damaged or incomplete — download it again"
    )]
    Gzip {
        /// The file.
        path: PathBuf,
        /// Bytes decompressed before the failure.
        decompressed: u64,
        /// The decoder's message.
        source: std::io::Error,
    },
    /// A file's magic number is not the one of its format.
    #[error(
        "{path}: bad magic number 0x{found:08x} at byte 0{}: expected 0x{expected:08x} ({what}); \
         this is not such a file — check the file name and the split",
        gz_note(.gzip)
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// Whether the offset counts decompressed bytes.
        gzip: bool,
        /// The magic number read.
        found: u32,
        /// The magic number of the format.
        expected: u32,
        /// The format ("IDX images, u8, 3 dimensions", …).
        what: String,
    },
    /// A file ends before the data its header (or format) promises.
    #[error(
        "{path}: truncated at byte {offset}{}: expected {missing} more bytes of {what}; \
         the file is incomplete — download it again",
        gz_note(.gzip)
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Whether the offset counts decompressed bytes.
        gzip: bool,
        /// Where the file ends.
        offset: u64,
        /// Bytes missing to complete the item being read.
        missing: u64,
        /// The item being read ("image 9999 of 10000", …).
        what: String,
    },
    /// A file goes on after the data its header declares.
    #[error(
        "{path}: {} from byte {offset}{} on, after the {offset} bytes the header declares \
         ({what}); the header does not match the data — the file is damaged",
        extra_note(.extra),
        gz_note(.gzip)
    )]
    Trailing {
        /// The file.
        path: PathBuf,
        /// Whether the offset counts decompressed bytes.
        gzip: bool,
        /// Where the declared data ends: the size the header declares.
        offset: u64,
        /// Bytes after it, when counted (a gzip stream is not inflated past its first one).
        extra: Option<u64>,
        /// The declared data ("10000 images", …).
        what: String,
    },
    /// A header field holds an impossible value.
    #[error("{path}: byte {offset}{}: {message}", gz_note(.gzip))]
    Header {
        /// The file.
        path: PathBuf,
        /// Whether the offset counts decompressed bytes.
        gzip: bool,
        /// Offset of the field.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// The images file and the labels file of a split disagree on the number of images.
    #[error(
        "{images} holds {n_images} images but {labels} holds {n_labels} labels; \
         both files must come from the same split"
    )]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Images it declares.
        n_images: usize,
        /// The labels file.
        labels: PathBuf,
        /// Labels it declares.
        n_labels: usize,
    },
    /// A label outside `0..classes`.
    #[error(
        "{path}: byte {offset}{}: label {label} is out of range 0..{classes}; \
         the file is damaged or is not a {classes}-class data set",
        gz_note(.gzip)
    )]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Whether the offset counts decompressed bytes.
        gzip: bool,
        /// Offset of the label byte.
        offset: u64,
        /// The label read.
        label: u32,
        /// Number of classes of the format.
        classes: usize,
    },
    /// A CSV value that is not what the format needs.
    #[error("{path}: line {line}, column {column}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (value index within the line).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// An image file the image decoder rejects.
    #[error("{path}: cannot decode image: {message}; remove or replace the file")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A folder that yields no image.
    #[error("{dir}: no images found (looked for *.png, *.jpg, *.jpeg{})", subfolder_note(.labelled))]
    NoImages {
        /// The folder.
        dir: PathBuf,
        /// Whether it has class subfolders.
        labelled: bool,
    },
    /// A setting of the source that cannot work.
    #[error("{dir}: field `{field}`: {message}")]
    Setting {
        /// The folder of the source.
        dir: PathBuf,
        /// The field of `ImageSource`.
        field: &'static str,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// Images larger than the size they should be padded to.
    #[error(
        "{name}: images are {height}×{width}, larger than the padded size {size}×{size}; \
         pad to at least {}",
        .height.max(.width)
    )]
    PadTooSmall {
        /// The data set.
        name: String,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
        /// The requested size.
        size: usize,
    },
}

fn gz_note(gzip: &bool) -> &'static str {
    if *gzip { " (after gunzip)" } else { "" }
}

fn extra_note(extra: &Option<u64>) -> String {
    match extra {
        Some(n) => format!("{n} unexpected bytes"),
        None => "more bytes".into(),
    }
}

fn subfolder_note(labelled: &bool) -> &'static str {
    if *labelled {
        " in each class subfolder"
    } else {
        ""
    }
}
