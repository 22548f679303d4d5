//! Labelled text datasets: TSV or CSV with a header naming `label` and
//! `text` columns (other columns are ignored).
//!
//! TSV files are read without quoting (texts may contain `"`), CSV files
//! with standard quoting. A UTF-8 byte-order mark and CRLF line ends are
//! accepted. Every problem is reported with the file and line.

use crate::error::{Result, TextClfError};
use sha2::{Digest, Sha256};
use std::path::Path;

/// A loaded dataset and its fingerprint.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// File name, for lineage.
    pub name: String,
    pub texts: Vec<String>,
    pub labels: Vec<String>,
    /// sha256 of the file's bytes, hex.
    pub sha256: String,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    pub fn load(path: &Path) -> Result<Dataset> {
        let bytes = std::fs::read(path).map_err(|source| TextClfError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        Self::parse(&bytes, &path.display().to_string(), if is_csv { b',' } else { b'\t' })
    }

    /// Parses dataset bytes; `delimiter` `\t` reads TSV, anything else CSV.
    pub fn parse(bytes: &[u8], path: &str, delimiter: u8) -> Result<Dataset> {
        let digest = Sha256::digest(bytes);
        let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.to_string());
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(TextClfError::EmptyDataset { path: path.into() });
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quoting(delimiter != b'\t')
            .has_headers(true)
            .from_reader(body);
        let malformed = |line: u64, reason: String| TextClfError::Malformed {
            path: path.to_string(),
            line,
            reason,
        };
        let headers = reader.headers().map_err(|e| malformed(1, e.to_string()))?.clone();
        let find = |column: &str| -> Result<usize> {
            let positions: Vec<usize> = headers
                .iter()
                .enumerate()
                .filter(|(_, h)| h.trim() == column)
                .map(|(i, _)| i)
                .collect();
            match positions.as_slice() {
                [i] => Ok(*i),
                [] => Err(TextClfError::MissingColumn {
                    path: path.to_string(),
                    column: column.to_string(),
                    found: headers.iter().collect::<Vec<_>>().join(", "),
                }),
                _ => Err(TextClfError::DuplicateColumn {
                    path: path.to_string(),
                    column: column.to_string(),
                }),
            }
        };
        let (label_col, text_col) = (find("label")?, find("text")?);
        let mut texts = Vec::new();
        let mut labels = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!(
                        "{len} fields where the header has {expected_len} (a stray {} in the text?)",
                        if delimiter == b'\t' { "tab" } else { "comma or quote" }
                    ),
                    csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 (save the file as UTF-8)".to_string(),
                    _ => e.to_string(),
                };
                malformed(line, reason)
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let label = record.get(label_col).unwrap_or("").trim();
            let text = record.get(text_col).unwrap_or("");
            if label.is_empty() {
                return Err(malformed(line, "empty label".into()));
            }
            if text.trim().is_empty() {
                return Err(malformed(line, "empty text".into()));
            }
            labels.push(label.to_string());
            texts.push(text.to_string());
        }
        if texts.is_empty() {
            return Err(TextClfError::EmptyDataset { path: path.into() });
        }
        Ok(Dataset {
            name,
            texts,
            labels,
            sha256,
        })
    }
}
