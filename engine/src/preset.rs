//! Presets as TOML: a file (or text) parsed into a settings struct, `--set dotted.key=value`
//! overrides applied first, then the struct's own checks. Every error names its origin and key.
//! Run configs and image-teacher settings are both read this way.

use serde::de::DeserializeOwned;

use crate::error::ConfigError;
use sim_formats::validation::ValidationError;

/// Parses TOML `text` (`origin` names it in errors) as a `T`, with `key=value` overrides applied
/// first, then checks it with `validate`; every error names the origin and the key.
pub fn parse_validated<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    overrides: &[String],
    validate: impl FnOnce(&T) -> Result<(), ValidationError>,
) -> Result<T, ConfigError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
        origin: origin.to_owned(),
        message: e.to_string(),
    })?;
    for item in overrides {
        apply_override(&mut table, item)?;
    }
    let value: T = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        ConfigError::Field {
            origin: origin.to_owned(),
            key: e.path().to_string(),
            message: e.into_inner().to_string(),
        }
    })?;
    validate(&value).map_err(|e| ConfigError::Field {
        origin: origin.to_owned(),
        key: e.key,
        message: e.message,
    })?;
    Ok(value)
}

/// Applies one `dotted.key=value` override. The value is read as a TOML value (`1e-4`, `true`,
/// `"l2"`, `{ kind = "huber", delta = 0.1 }`); a bare word that is not TOML is taken as a string.
/// Setting `kind` of a tagged table replaces the table, so parameters of the old kind don't linger.
pub fn apply_override(root: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let bad = |message: &str| ConfigError::Override {
        item: item.to_owned(),
        message: message.to_owned(),
    };
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| bad("expected key=value, e.g. distill.lr_generator=1e-4"))?;
    let key = key.trim();
    let raw = raw.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty key segment"));
    }
    let (last, parents) = parts.split_last().ok_or_else(|| bad("empty key"))?;
    let mut table = root;
    for part in parents {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        // A tagged enum written as a bare string (`objective = "sim"`) becomes `{ kind = "sim" }`.
        if let toml::Value::String(kind) = entry {
            let mut t = toml::Table::new();
            t.insert("kind".into(), toml::Value::String(kind.clone()));
            *entry = toml::Value::Table(t);
        }
        table = entry
            .as_table_mut()
            .ok_or_else(|| bad(&format!("`{part}` is not a table")))?;
    }
    if *last == "kind" {
        table.clear();
    }
    table.insert(last.to_string(), value);
    Ok(())
}
