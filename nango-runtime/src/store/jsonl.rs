//! Records as JSON Lines files, one per model: `<dir>/<integration>/<connection>/<Model>.jsonl`.
//! Usable without a database (dry runs, inspection with `jq`, fixtures).

use super::StoreError;
use super::StoreResult;
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A folder of JSON Lines record files.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("nango-jsonl-doc-{}", std::process::id()));
/// let mut cache = nango_runtime::store::JsonlCache::create(&dir, "github", "acme").unwrap();
/// cache.append("Ticket", &serde_json::json!({"id": "1"})).unwrap();
/// cache.flush().unwrap();
/// assert_eq!(nango_runtime::store::JsonlCache::read(&dir, "github", "acme", "Ticket").unwrap().len(), 1);
/// ```
#[derive(Debug)]
pub struct JsonlCache {
    folder: PathBuf,
    files: HashMap<String, BufWriter<File>>,
}

fn folder(dir: &Path, integration: &str, connection: &str) -> PathBuf {
    dir.join(sanitize(integration)).join(sanitize(connection))
}

/// File names from user strings: anything but `[A-Za-z0-9._-]` becomes `_`.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

impl JsonlCache {
    /// Starts a fresh cache for a connection (existing model files are replaced when written).
    pub fn create(dir: &Path, integration: &str, connection: &str) -> StoreResult<JsonlCache> {
        let folder = folder(dir, integration, connection);
        std::fs::create_dir_all(&folder).map_err(|source| StoreError::File {
            action: "create",
            path: folder.clone(),
            source,
        })?;
        Ok(JsonlCache { folder, files: HashMap::new() })
    }

    /// Appends one record of `model`.
    pub fn append(&mut self, model: &str, record: &Value) -> StoreResult<()> {
        self.append_text(model, &record.to_string())
    }

    /// Appends one record of `model` given as JSON text (one line: JSON text written by
    /// serde_json has no raw newline).
    pub fn append_text(&mut self, model: &str, record: &str) -> StoreResult<()> {
        if !self.files.contains_key(model) {
            let path = self.model_file(model);
            let file = File::create(&path).map_err(|source| StoreError::File {
                action: "write",
                path: path.clone(),
                source,
            })?;
            self.files.insert(model.to_owned(), BufWriter::new(file));
        }
        let out = self.files.get_mut(model).expect("inserted above");
        let write = out.write_all(record.as_bytes()).and_then(|_| out.write_all(b"\n"));
        write.map_err(|source| StoreError::File { action: "write", path: self.model_file(model), source })
    }

    /// Writes buffered lines to disk.
    pub fn flush(&mut self) -> StoreResult<()> {
        for (model, out) in &mut self.files {
            out.flush().map_err(|source| StoreError::File {
                action: "write",
                path: self.folder.join(format!("{}.jsonl", sanitize(model))),
                source,
            })?;
        }
        Ok(())
    }

    fn model_file(&self, model: &str) -> PathBuf {
        self.folder.join(format!("{}.jsonl", sanitize(model)))
    }

    /// The folder the files are in.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Reads every record of a model back; a bad line is an error naming the file and line.
    pub fn read(dir: &Path, integration: &str, connection: &str, model: &str) -> StoreResult<Vec<Value>> {
        let path = folder(dir, integration, connection).join(format!("{}.jsonl", sanitize(model)));
        let file =
            File::open(&path).map_err(|source| StoreError::File { action: "read", path: path.clone(), source })?;
        let mut out = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| StoreError::File { action: "read", path: path.clone(), source })?;
            if line.trim().is_empty() {
                continue;
            }
            out.push(serde_json::from_str(&line).map_err(|source| StoreError::JsonLine {
                path: path.clone(),
                line: n + 1,
                column: source.column(),
                source,
            })?);
        }
        Ok(out)
    }
}
