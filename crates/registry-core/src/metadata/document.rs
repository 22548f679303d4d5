//! A version's metadata document: sealing it with its own digest, reading
//! it back with every field and the file list validated.

use super::digest::canonical_digest;
use super::*;

impl ModelMetadata {
    /// What the version holds, for messages that refuse it: "a sklearn
    /// model", "an untyped model".
    pub fn holds(&self) -> String {
        match &self.info.model_type {
            None => "an untyped model".to_string(),
            Some(t) => format!("a {t} model"),
        }
    }

    /// Fills `metadata_sha256` and returns the pretty JSON to store. Public
    /// for tools and tests that write a consistent document by hand: a
    /// valid digest proves nothing about who wrote it (see model-sign).
    pub fn seal(&mut self) -> Result<Vec<u8>> {
        self.canonicalization = Some(CANONICALIZATION.to_string());
        let map = self.to_map()?;
        self.metadata_sha256 = canonical_digest(map, &format!("the metadata of version {}", self.version))?;
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| RegistryError::Encode {
            version: self.version.to_string(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    fn to_map(&self) -> Result<Map<String, Value>> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => unreachable!("a struct serialises to an object"),
            Err(e) => Err(RegistryError::Encode {
                version: self.version.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Parses and checks a stored `metadata.json`: format, self-digest and
    /// fields. `location` is used in errors.
    pub fn from_json(bytes: &[u8], location: &str) -> Result<ModelMetadata> {
        let map = parse_versioned(bytes, location)?;
        let stored = map
            .get("metadata_sha256")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let actual = canonical_digest(map.clone(), location)?;
        if stored != actual {
            return Err(RegistryError::IntegrityMismatch {
                location: location.to_string(),
                what: "metadata sha256",
                expected: if stored.is_empty() { "(missing)".into() } else { stored },
                actual,
            });
        }
        let metadata: ModelMetadata = from_map(map, location)?;
        metadata.check_files(location)?;
        Ok(metadata)
    }

    /// Every file of the version: the artifact (if any), then the
    /// registered files, in the order recorded.
    pub fn stored_files(&self) -> Vec<StoredFile<'_>> {
        let artifact = self.artifact.iter().map(|a| StoredFile {
            path: &a.file,
            size: a.size,
            sha256: &a.sha256,
            blake3: a.blake3.as_deref(),
        });
        let files = self.files.iter().map(|f| StoredFile {
            path: &f.path,
            size: f.size,
            sha256: &f.sha256,
            blake3: Some(&f.blake3),
        });
        artifact.chain(files).collect()
    }

    /// The total size of the version's files.
    pub fn total_size(&self) -> u64 {
        self.stored_files().iter().map(|f| f.size).sum()
    }

    /// The file list is untrusted input like everything else in the
    /// document: every path a valid relative key that is not one of the
    /// registry's own names, no path twice or inside another file's path,
    /// digests well-formed, at least one file, and format 2 for `files`.
    fn check_files(&self, location: &str) -> Result<()> {
        let invalid = |reason: String| RegistryError::InvalidMetadata {
            location: location.to_string(),
            reason,
        };
        let files = self.stored_files();
        if files.is_empty() {
            return Err(invalid("it lists no files (neither \"artifact\" nor \"files\")".into()));
        }
        if files.len() > MAX_FILES {
            return Err(invalid(format!(
                "it lists {} files, more than {MAX_FILES}",
                files.len()
            )));
        }
        if !self.files.is_empty() && self.format_version < 2 {
            return Err(invalid("\"files\" needs format_version 2".into()));
        }
        let mut paths: Vec<&str> = Vec::with_capacity(files.len());
        for f in &files {
            check_file_path(f.path).map_err(|reason| invalid(format!("file {:?}: {reason}", f.path)))?;
            let hex = |d: &str| d.len() == 64 && d.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !hex(f.sha256) || f.blake3.is_some_and(|b| !hex(b)) {
                return Err(invalid(format!(
                    "file {:?}: a digest is not 64 lower-case hex digits",
                    f.path
                )));
            }
            paths.push(f.path);
        }
        paths.sort_unstable();
        for pair in paths.windows(2) {
            if pair[0] == pair[1] {
                return Err(invalid(format!("file {:?} is listed twice", pair[0])));
            }
            if pair[1].strip_prefix(pair[0]).is_some_and(|rest| rest.starts_with('/')) {
                return Err(invalid(format!(
                    "{:?} is a file and a directory ({:?})",
                    pair[0], pair[1]
                )));
            }
        }
        Ok(())
    }
}

/// Whether `path` can name a file of a version: a valid storage key (so no
/// `..`, no absolute path, no hidden names), and not the registry's own
/// `metadata.json` or `model.sig` at the top of the version directory.
pub(crate) fn check_file_path(path: &str) -> std::result::Result<(), String> {
    crate::store::validate_key(path).map_err(|e| match e {
        crate::store::StoreError::InvalidKey { reason, .. } => format!(
            "{reason} (file paths are relative, '/'-separated, made of A-Z a-z 0-9 . _ + -, with no component starting with '.')"
        ),
        other => other.to_string(),
    })?;
    if path == METADATA_FILE || path == SIGNATURE_FILE {
        return Err(format!(
            "{path:?} is reserved for the registry's own use; rename the file"
        ));
    }
    Ok(())
}
