//! A folder of PNG/JPEG files. With subfolders, each subfolder is a class (labels follow the
//! sorted subfolder names; an empty subfolder is still a class) and the images directly in each
//! are read — images beside the subfolders are then ignored. Without subfolders, the folder's
//! images are read, unlabelled. Other files, and names starting with `.`, are ignored; files are
//! read in name order. Every image is scaled to fill `size × size` (aspect ratio kept, the excess
//! centre-cropped; triangle filter, unscaled when already that size) and converted to grey or RGB.

use std::path::{Path, PathBuf};

use image::DynamicImage;
use image::imageops::FilterType;

use super::{ImageDataError, ImageSet, scale};
use crate::limits;

/// File extensions read as images (compared case-insensitively).
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Loads the images of `dir` as `channels × size × size`.
pub fn load(dir: &Path, size: usize, channels: usize) -> Result<ImageSet, ImageDataError> {
    let setting = |field, message: String| ImageDataError::Setting {
        dir: dir.to_path_buf(),
        field,
        message,
    };
    if !matches!(channels, 1 | 3) {
        return Err(setting(
            "channels",
            format!("must be 1 (grey) or 3 (RGB), got {channels}"),
        ));
    }
    let max = limits::MAX_IMAGE_SIDE;
    let side = u32::try_from(size)
        .ok()
        .filter(|_| (1..=max).contains(&size));
    let side = side.ok_or_else(|| setting("size", format!("must be in 1..={max}, got {size}")))?;

    let classes = entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect::<Vec<_>>();
    if classes.len() > 256 {
        return Err(setting(
            "dir",
            format!(
                "has {} class subfolders; at most 256 are supported",
                classes.len()
            ),
        ));
    }
    let files: Vec<(PathBuf, Option<u8>)> = if classes.is_empty() {
        image_files(dir)?.into_iter().map(|f| (f, None)).collect()
    } else {
        let mut files = Vec::new();
        for (label, class) in (0u8..=255).zip(&classes) {
            files.extend(image_files(class)?.into_iter().map(|f| (f, Some(label))));
        }
        files
    };
    limits::fits(
        &format!("{} images of {channels}×{size}×{size} as f32", files.len()),
        (files.len() * channels * size * size) as u128,
        4,
    )
    .map_err(|message| ImageDataError::Limit {
        path: dir.to_path_buf(),
        message,
    })?;
    let mut set = ImageSet {
        name: String::new(),
        channels,
        height: size,
        width: size,
        pixels: Vec::new(),
        labels: Vec::new(),
        classes: classes.len(),
    };
    for (file, label) in files {
        let raw = super::bytes::read_file(&file)?;
        decode(&file, &raw, side, channels, &mut set.pixels)?;
        set.labels.extend(label);
    }
    if set.is_empty() {
        return Err(ImageDataError::NoImages {
            dir: dir.to_path_buf(),
            labelled: set.classes > 0,
        });
    }
    Ok(set)
}

/// The entries of `dir` not starting with `.`, sorted by name.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, ImageDataError> {
    let io = |source| ImageDataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            paths.push(entry.path());
        }
    }
    paths.sort();
    Ok(paths)
}

/// The image files directly in `dir`, sorted by name.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, ImageDataError> {
    let is_image = |p: &PathBuf| {
        let ext = p.extension().map(|e| e.to_string_lossy().to_lowercase());
        p.is_file() && ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
    };
    Ok(entries(dir)?.into_iter().filter(is_image).collect())
}

/// Decodes one PNG or JPEG file, `raw` (`path` names it in errors), fits it to `side × side`
/// and appends its CHW pixels. The decoder may allocate at most [`limits::max_bytes`], and the
/// image may be at most [`limits::MAX_IMAGE_SIDE`] on each side: a header that declares a huge
/// image is refused before its pixels are allocated.
pub fn decode(
    path: &Path,
    raw: &[u8],
    side: u32,
    channels: usize,
    pixels: &mut Vec<f32>,
) -> Result<(), ImageDataError> {
    let undecodable = |message: String| ImageDataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = image::ImageReader::new(std::io::Cursor::new(raw))
        .with_guessed_format()
        .map_err(|e| undecodable(e.to_string()))?;
    let max_side = u32::try_from(limits::MAX_IMAGE_SIDE).unwrap_or(u32::MAX);
    let mut bounds = image::Limits::default();
    bounds.max_image_width = Some(max_side);
    bounds.max_image_height = Some(max_side);
    bounds.max_alloc = Some(limits::max_bytes());
    reader.limits(bounds);
    let decoded = reader.decode().map_err(|e| undecodable(e.to_string()))?;
    let fitted = if decoded.width() == side && decoded.height() == side {
        decoded
    } else {
        decoded.resize_to_fill(side, side, FilterType::Triangle)
    };
    if channels == 1 {
        pixels.extend(fitted.to_luma8().as_raw().iter().map(|&v| scale(v, 255.0)));
    } else {
        push_planes(&fitted, pixels);
    }
    Ok(())
}

/// Appends the R, G and B planes of an image (interleaved RGB → CHW).
fn push_planes(img: &DynamicImage, pixels: &mut Vec<f32>) {
    let rgb = img.to_rgb8();
    for c in 0..3 {
        pixels.extend(
            rgb.as_raw()
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&v| scale(v, 255.0)),
        );
    }
}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage};

    use super::*;

    /// A `w × h` RGB image with pixel `(x, y) ↦ (10x, 10y, 200)`.
    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([(10 * x) as u8, (10 * y) as u8, 200]))
    }

    #[test]
    fn unlabelled_folder_reads_exact_rgb_planes() {
        let dir = tempfile::tempdir().expect("tempdir");
        gradient(4, 4).save(dir.path().join("b.png")).expect("png");
        RgbImage::from_pixel(4, 4, Rgb([255, 0, 51]))
            .save(dir.path().join("a.PNG"))
            .expect("png");
        std::fs::write(dir.path().join("notes.txt"), "not an image").expect("txt");
        std::fs::write(dir.path().join(".hidden.png"), "ignored").expect("hidden");

        let set = load(dir.path(), 4, 3).expect("load");
        assert_eq!(
            (set.len(), set.channels, set.height, set.width),
            (2, 3, 4, 4)
        );
        assert!(set.labels.is_empty());
        assert_eq!(set.classes, 0);
        // Sorted by name: a.PNG first, a flat colour.
        let a = set.image(0);
        assert!(a[..16].iter().all(|&v| v == 1.0));
        assert!(a[16..32].iter().all(|&v| v == -1.0));
        assert!(a[32..].iter().all(|&v| v == scale(51, 255.0)));
        // b.png: red plane at (x=3, y=1) is 30, green plane at (x=0, y=2) is 20.
        let b = set.image(1);
        assert_eq!(b[4 + 3], scale(30, 255.0));
        assert_eq!(b[16 + 2 * 4], scale(20, 255.0));
        assert_eq!(b[32 + 15], scale(200, 255.0));
    }

    #[test]
    fn subfolders_are_sorted_classes_and_grey_conversion_keeps_grey() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (class, count, level) in [("cat", 2, 100u8), ("ant", 1, 0), ("dog", 3, 255)] {
            let sub = dir.path().join(class);
            std::fs::create_dir(&sub).expect("mkdir");
            for k in 0..count {
                image::GrayImage::from_pixel(6, 6, image::Luma([level]))
                    .save(sub.join(format!("{k}.png")))
                    .expect("png");
            }
        }
        let set = load(dir.path(), 6, 1).expect("load");
        assert_eq!((set.len(), set.channels, set.height), (6, 1, 6));
        assert_eq!(set.classes, 3);
        assert_eq!(set.labels, vec![0, 1, 1, 2, 2, 2]);
        assert_eq!(set.class_counts(), vec![1, 2, 3]);
        assert!(set.image(0).iter().all(|&v| v == -1.0));
        assert!(set.image(1).iter().all(|&v| v == scale(100, 255.0)));
        assert!(set.image(5).iter().all(|&v| v == 1.0));
    }

    #[test]
    fn resize_fills_and_centre_crops() {
        let dir = tempfile::tempdir().expect("tempdir");
        // 8×4: left half black, right half white; a 2×2 fill scales to 4×2 and crops columns 1..3.
        let img = RgbImage::from_fn(8, 4, |x, _| {
            if x < 4 {
                Rgb([0, 0, 0])
            } else {
                Rgb([255, 255, 255])
            }
        });
        img.save(dir.path().join("wide.png")).expect("png");
        // A flat 10×10 JPEG scales to a flat 2×2 (JPEG is lossy: compare loosely).
        RgbImage::from_pixel(10, 10, Rgb([128, 128, 128]))
            .save(dir.path().join("flat.jpg"))
            .expect("jpeg");
        let set = load(dir.path(), 2, 1).expect("load");
        assert_eq!((set.len(), set.dim()), (2, 4));
        assert!(
            set.image(0)
                .iter()
                .all(|&v| (v - scale(128, 255.0)).abs() < 0.02)
        );
        // wide.png: row-major 2×2 grey, dark on the left, light on the right.
        let w = set.image(1);
        assert_eq!(w[0], w[2]);
        assert_eq!(w[1], w[3]);
        assert!(w[0] < -0.5 && w[1] > 0.5, "{w:?}");
    }

    #[test]
    fn bad_image_settings_and_empty_folders_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let msg = load(dir.path(), 8, 1).expect_err("empty").to_string();
        assert!(
            msg.ends_with("no images found (looked for *.png, *.jpg, *.jpeg)"),
            "{msg}"
        );
        let msg = load(dir.path(), 8, 2).expect_err("channels").to_string();
        assert!(
            msg.ends_with("field `channels`: must be 1 (grey) or 3 (RGB), got 2"),
            "{msg}"
        );
        let msg = load(dir.path(), 0, 3).expect_err("size").to_string();
        assert!(
            msg.ends_with("field `size`: must be in 1..=4096, got 0"),
            "{msg}"
        );

        std::fs::write(
            dir.path().join("broken.png"),
            b"\x89PNG\r\n\x1a\nnot really",
        )
        .expect("w");
        let err = load(dir.path(), 8, 1).expect_err("undecodable");
        assert!(matches!(err, ImageDataError::Decode { .. }));
        let msg = err.to_string();
        assert!(msg.contains("broken.png: cannot decode image: "), "{msg}");
    }

    #[test]
    fn a_png_header_declaring_a_huge_image_is_refused_before_decoding() {
        // A valid 2×2 PNG whose IHDR is rewritten to 100000×100000 with a correct CRC: only the
        // limits stand between it and a 40 GB allocation.
        let mut raw = std::io::Cursor::new(Vec::new());
        gradient(2, 2)
            .write_to(&mut raw, image::ImageFormat::Png)
            .expect("png");
        let mut raw = raw.into_inner();
        // Signature (8), length (4), "IHDR" (4), then width and height.
        raw[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        raw[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&raw[12..29]);
        raw[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        let mut pixels = Vec::new();
        let err = decode(Path::new("bomb.png"), &raw, 8, 3, &mut pixels).expect_err("refused");
        let msg = err.to_string();
        assert!(msg.starts_with("bomb.png: cannot decode image: "), "{msg}");
        assert!(msg.contains("limit"), "{msg}");
        assert!(pixels.is_empty());
    }
}
