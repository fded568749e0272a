//! A published EDM teacher converted to safetensors by `tools/edm_to_safetensors.py`: the
//! weights of its DDPM++ `SongUNet` under the names [`SongUNet`] expects, and metadata that
//! says what it is (docs/edm-teachers.md).

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;

use crate::error::{EngineError, Result};
use crate::nets::song_unet::{SongUNet, SongUNetConfig};
use crate::rng::{Stream, rng_for};
use crate::store::tensor_file::TensorFile;

/// `format` metadata of a converted EDM teacher.
pub const EDM_TEACHER_FORMAT: &str = "sim-workbench edm-songunet v1";

/// The command that makes such a file, for error messages (docs/edm-teachers.md).
pub const CONVERTER: &str =
    "python tools/edm_to_safetensors.py --edm PATH_TO_EDM_CHECKOUT NETWORK.pkl OUT.safetensors";

/// A converted EDM teacher: the frozen network and where it came from.
#[derive(Debug)]
pub struct EdmTeacher {
    /// The network, parameters without gradients and dropout off ([`Module::freeze`]).
    pub net: SongUNet,
    /// The pickle it was converted from (metadata `source`: file name and SHA-256).
    pub source: String,
}

/// Writes `net` in the converted format, as `tools/edm_to_safetensors.py` does, with `source`
/// saying where its weights came from (atomically).
pub fn save_edm_teacher(path: &Path, net: &SongUNet, source: &str) -> Result<()> {
    let config = net.config();
    let mut file = TensorFile::new();
    file.insert_module("", net)?;
    let network = serde_json::to_string(config).map_err(|e| EngineError::File {
        path: path.to_owned(),
        message: format!("cannot encode the network: {e}"),
    })?;
    for (key, value) in [
        ("format", EDM_TEACHER_FORMAT.to_owned()),
        ("architecture", "ddpmpp".to_owned()),
        ("precond", config.precond.name().to_owned()),
        ("sigma_data", config.precond.sigma_data().to_string()),
        ("label_dim", config.label_dim.to_string()),
        ("network", network),
        ("source", source.to_owned()),
    ] {
        file.metadata.insert(key.into(), value);
    }
    file.write(path)
}

/// Writes a network of `config` with random weights seeded by `seed` ([`SongUNet::random`]) in
/// the converted format: a stand-in with the published shapes, for timing the paper's presets
/// where the published network is not at hand. Its `source` says so.
pub fn save_random_edm_teacher(path: &Path, config: &SongUNetConfig, seed: u64) -> Result<()> {
    let mut rng = rng_for(seed, 0, Stream::Init);
    let net = SongUNet::random(config, &mut rng, &Device::flex())?;
    let source = format!(
        "random weights (sim-workbench random-edm-teacher, seed {seed}): for timing only, its \
         samples are noise"
    );
    save_edm_teacher(path, &net, &source)
}

/// Loads a converted EDM teacher onto `device`, frozen. Its metadata must be this format's:
/// `network` (the [`SongUNetConfig`] as JSON), and beside it `architecture` (`ddpmpp`),
/// `precond`, `sigma_data` and `label_dim`, which must say what `network` says. Errors name
/// the file and the field; a missing file names the converter.
pub fn load_edm_teacher(path: &Path, device: &Device) -> Result<EdmTeacher> {
    if !path.exists() {
        return Err(EngineError::File {
            path: path.to_owned(),
            message: format!(
                "does not exist. EDM teachers cannot be shipped or downloaded here: download \
                 the network pickle (e.g. edm-cifar10-32x32-cond-vp.pkl) where you can, and \
                 convert it once with `{CONVERTER}` (docs/edm-teachers.md)"
            ),
        });
    }
    let file = TensorFile::read(path)?;
    let bad = |key: &str, message: String| EngineError::File {
        path: path.to_owned(),
        message: format!(
            "metadata `{key}`: {message}; convert the network again with `{CONVERTER}`"
        ),
    };
    let format = file.meta("format")?;
    if format != EDM_TEACHER_FORMAT {
        return Err(EngineError::File {
            path: path.to_owned(),
            message: format!(
                "is a `{format}` file, not a converted EDM teacher (`{EDM_TEACHER_FORMAT}`); \
                 make one with `{CONVERTER}`"
            ),
        });
    }
    let config: SongUNetConfig =
        serde_json::from_str(file.meta("network")?).map_err(|e| bad("network", e.to_string()))?;
    config
        .validate()
        .map_err(|e| bad("network", e.to_string()))?;
    let expected = [
        ("architecture", "ddpmpp".to_owned()),
        ("precond", config.precond.name().to_owned()),
        ("label_dim", config.label_dim.to_string()),
    ];
    for (key, value) in expected {
        let found = file.meta(key)?;
        if found != value {
            return Err(bad(
                key,
                format!("is {found:?} but `network` says {value:?}"),
            ));
        }
    }
    let sigma_data: f64 = file
        .meta("sigma_data")?
        .parse()
        .map_err(|e: std::num::ParseFloatError| bad("sigma_data", e.to_string()))?;
    if sigma_data != config.precond.sigma_data() {
        return Err(bad(
            "sigma_data",
            format!(
                "is {sigma_data} but `network` says {}",
                config.precond.sigma_data()
            ),
        ));
    }
    let blank = SongUNet::zeros(&config, device).map_err(|e| bad("network", e.to_string()))?;
    let net = file.load_module("", blank, device)?.freeze();
    Ok(EdmTeacher {
        net,
        source: file.meta("source")?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    /// Bad files are refused by name: a missing one names the converter, another format is
    /// named, and metadata that contradicts `network` names the key.
    #[test]
    fn edm_teacher_files_are_checked() {
        let device = Device::flex();
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("edm-cifar10-32x32-cond-vp.safetensors");
        let message = load_edm_teacher(&missing, &device)
            .expect_err("missing")
            .to_string();
        assert!(message.contains("tools/edm_to_safetensors.py"), "{message}");

        let ours = repo("assets/teachers/digits-cond.safetensors");
        let message = load_edm_teacher(&ours, &device)
            .expect_err("an image teacher of ours")
            .to_string();
        assert!(message.contains("not a converted EDM teacher"), "{message}");

        let fixture = repo("tests/fixtures/edm/songunet-cond-edm.safetensors");
        // What the workbench writes, it reads back, tensor for tensor.
        let net = load_edm_teacher(&fixture, &device).expect("fixture").net;
        let copy = dir.path().join("copy.safetensors");
        save_edm_teacher(&copy, &net, "a copy").expect("writes");
        let back = load_edm_teacher(&copy, &device).expect("reads");
        assert_eq!(back.source, "a copy");
        assert_eq!(back.net.config(), net.config());
        for (key, value, why) in [
            ("label_dim", "0", "contradicts network"),
            ("precond", "vp", "contradicts network"),
            ("sigma_data", "1.0", "contradicts network"),
            ("network", "{}", "not a network"),
        ] {
            let mut file = TensorFile::read(&fixture).expect("fixture");
            file.metadata.insert(key.into(), value.into());
            let path = dir.path().join("bad.safetensors");
            file.write(&path).expect("writes");
            let message = load_edm_teacher(&path, &device).expect_err(why).to_string();
            assert!(message.contains(&format!("metadata `{key}`")), "{message}");
        }
        // Fields of `network` out of range are refused before anything is built from them.
        type Edit = fn(&mut serde_json::Value);
        let edits: [(&str, Edit, &str); 2] = [
            (
                "a class count of 10⁹",
                |n| n["label_dim"] = 1_000_000_000u64.into(),
                "metadata `network`: `label_dim`: is 1000000000; at most 1000000 is supported",
            ),
            (
                "a negative σ_d",
                |n| n["precond"]["sigma_data"] = (-0.5f64).into(),
                "metadata `network`: `precond.sigma_data`: is -0.5; σ_d must be a number in \
                 [1e-4, 1e4]",
            ),
        ];
        for (why, edit, needle) in edits {
            let mut file = TensorFile::read(&fixture).expect("fixture");
            let mut network: serde_json::Value =
                serde_json::from_str(&file.metadata["network"]).expect("json");
            edit(&mut network);
            file.metadata.insert("network".into(), network.to_string());
            let path = dir.path().join("bad.safetensors");
            file.write(&path).expect("writes");
            let message = load_edm_teacher(&path, &device).expect_err(why).to_string();
            assert!(message.contains(needle), "{message}");
        }
    }
}
