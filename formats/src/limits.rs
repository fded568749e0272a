//! Resource limits: the largest sizes the workbench accepts, relative to this machine's memory,
//! checked *before* anything is allocated or read, so that a hostile value or file header is
//! refused with the field, the value and the limit instead of aborting on allocation. Imports
//! only [`crate::validation`], so every layer may use it.

use std::path::Path;

use crate::validation::ValidationError;

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`), or 16 GiB where that
/// cannot be read.
pub fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        })
        .unwrap_or(16 << 30)
}

/// The most bytes one file or one tensor allocation may take: half the machine's memory.
pub fn max_bytes() -> u64 {
    memory_bytes() / 2
}

/// `count` values of `bytes_each` bytes must fit in [`max_bytes`]; `key` names the setting or
/// file field that asks for them and `what` says what they are.
pub fn allocation(
    key: &str,
    what: &str,
    count: u128,
    bytes_each: u128,
) -> Result<(), ValidationError> {
    fits(what, count, bytes_each)
        .map_err(|message| ValidationError::new(key, format!("{message}; use a smaller value")))
}

/// `count` values of `bytes_each` bytes must fit in [`max_bytes`]; the error says how much
/// `what` would take and the limit, for the caller to attach to a file or a field.
pub fn fits(what: &str, count: u128, bytes_each: u128) -> Result<(), String> {
    let bytes = count.saturating_mul(bytes_each);
    let limit = u128::from(max_bytes());
    match bytes <= limit {
        true => Ok(()),
        false => Err(format!(
            "{what} would take {} but this machine allows {} (half of its memory)",
            human(bytes),
            human(limit)
        )),
    }
}

/// `value` of the integer setting `key` must be at most `max`.
pub fn at_most(key: &str, value: usize, max: usize) -> Result<(), ValidationError> {
    match value <= max {
        true => Ok(()),
        false => Err(ValidationError::new(
            key,
            format!("is {value}; at most {max} is supported"),
        )),
    }
}

/// `batch` (of the setting `key`) must be in `1..=`[`MAX_BATCH`].
pub fn batch(key: &str, batch: usize) -> Result<(), ValidationError> {
    match (1..=MAX_BATCH).contains(&batch) {
        true => Ok(()),
        false => Err(ValidationError::new(
            key,
            format!("must be in 1..={MAX_BATCH}, got {batch}"),
        )),
    }
}

/// Largest batch of any training (2²⁰ samples); what one batch of a given network takes is
/// checked against [`allocation`] where the network is known.
pub const MAX_BATCH: usize = 1 << 20;
/// Largest image side, in pixels, of data, networks and pads.
pub const MAX_IMAGE_SIDE: usize = 4096;
/// Largest channel count or layer width of a network.
pub const MAX_WIDTH: usize = 65_536;
/// Largest class count of a conditional network or data set.
pub const MAX_CLASSES: usize = 1_000_000;

/// The size of the regular file at `path`, refused when it is not a regular file (a FIFO or a
/// device would block or never end) or when it is larger than [`max_bytes`]. Errors are
/// messages for the caller to attach to the path.
pub fn regular_file(path: &Path) -> Result<u64, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!(
            "is not a regular file ({}); pass the path of a file",
            kind(&meta.file_type())
        ));
    }
    let limit = max_bytes();
    match meta.len() <= limit {
        true => Ok(meta.len()),
        false => Err(format!(
            "is {} but at most {} (half of this machine's memory) is read",
            human(u128::from(meta.len())),
            human(u128::from(limit))
        )),
    }
}

/// What a file that is not a regular file is.
fn kind(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "not a plain file"
    }
}

/// `bytes` for a reader: `3.2 GiB`, `512 B`.
pub fn human(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_refuses_what_exceeds_half_the_memory_and_names_the_key() {
        assert!(memory_bytes() > 1 << 20);
        assert_eq!(allocation("distill.batch", "the batch", 1024, 4), Ok(()));
        let err = allocation("distill.batch", "the batch", u128::MAX, 4).expect_err("refused");
        assert_eq!(err.key, "distill.batch");
        assert!(
            err.message.contains("PiB") || err.message.contains("TiB"),
            "{err}"
        );
        assert!(at_most("image_size", 4097, MAX_IMAGE_SIDE).is_err());
        assert_eq!(human(1536), "1.5 KiB");
    }

    #[test]
    fn regular_file_refuses_directories_and_fifos() {
        let dir = std::env::temp_dir().join(format!("sim-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert!(
            regular_file(&dir)
                .expect_err("a dir")
                .contains("a directory")
        );
        let file = dir.join("f");
        std::fs::write(&file, b"abc").expect("write");
        assert_eq!(regular_file(&file), Ok(3));
        let fifo = dir.join("p");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert!(regular_file(&fifo).expect_err("a fifo").contains("a FIFO"));
        }
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
