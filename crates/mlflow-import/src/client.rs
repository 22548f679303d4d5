//! MLflow's REST API as a client sends it: JSON GETs with the token or
//! the basic credentials the mlflow client takes from the environment,
//! and artifact downloads streamed to disk and digested on the way.

use crate::ImportError;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// The most bytes of one JSON answer read (a page of 1,000 versions is
/// well under it).
const MAX_JSON: u64 = 64 * 1024 * 1024;

pub struct Client {
    base: String,
    agent: ureq::Agent,
    auth: Option<String>,
}

/// One file of an artifact directory: its path below the directory and
/// the size the server listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub path: String,
    pub size: Option<u64>,
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl Client {
    /// A client of the server at `uri` (http:// or https://), with
    /// MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME and
    /// MLFLOW_TRACKING_PASSWORD (basic) as the mlflow client uses them.
    pub fn new(uri: &str) -> Result<Client, ImportError> {
        let base = uri.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ImportError::Usage(format!(
                "{uri:?} is not an MLflow server's URI: give http://HOST:PORT (what MLFLOW_TRACKING_URI names)"
            )));
        }
        let auth = match (
            std::env::var("MLFLOW_TRACKING_TOKEN").ok().filter(|t| !t.is_empty()),
            std::env::var("MLFLOW_TRACKING_USERNAME").ok(),
            std::env::var("MLFLOW_TRACKING_PASSWORD").ok(),
        ) {
            (Some(token), _, _) => Some(format!("Bearer {token}")),
            (None, Some(user), Some(password)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            _ => None,
        };
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(120))
            .build();
        Ok(Client { base, agent, auth })
    }

    pub fn uri(&self) -> &str {
        &self.base
    }

    fn request(&self, url: &str) -> Result<ureq::Response, ImportError> {
        let mut request = self.agent.get(url);
        if let Some(auth) = &self.auth {
            request = request.set("Authorization", auth);
        }
        // The server's own retries cover a restart; one more try here
        // covers a dropped connection.
        let mut attempt = 0;
        loop {
            match request.clone().call() {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(status, response)) => {
                    let body: Value = response
                        .into_string()
                        .ok()
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or(Value::Null);
                    return Err(ImportError::Http {
                        url: url.to_string(),
                        status,
                        code: body["error_code"].as_str().unwrap_or("").to_string(),
                        message: body["message"].as_str().unwrap_or("").to_string(),
                    });
                }
                Err(e) if attempt < 2 => {
                    attempt += 1;
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(500 * attempt));
                }
                Err(e) => {
                    return Err(ImportError::Network {
                        url: url.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// `GET /api/2.0/mlflow/<endpoint>?<query>` as JSON.
    pub fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, ImportError> {
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let url = format!("{}/api/2.0/mlflow/{endpoint}?{}", self.base, query.join("&"));
        let response = self.request(&url)?;
        let mut text = String::new();
        response
            .into_reader()
            .take(MAX_JSON)
            .read_to_string(&mut text)
            .map_err(|e| ImportError::Network {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        serde_json::from_str(&text).map_err(|e| ImportError::Protocol {
            url,
            reason: format!("the answer is not JSON: {e}"),
        })
    }

    /// Every file under the artifact directory `dir` (a path below
    /// `mlflow-artifacts:/`), recursively.
    pub fn list_artifacts(&self, dir: &str) -> Result<Vec<Listed>, ImportError> {
        let mut out = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(sub) = pending.pop() {
            let path = if sub.is_empty() {
                dir.to_string()
            } else {
                format!("{dir}/{sub}")
            };
            let url = format!(
                "{}/api/2.0/mlflow-artifacts/artifacts?path={}",
                self.base,
                encode(&path)
            );
            let response = self.request(&url)?;
            let listing: Value = response.into_json().map_err(|e| ImportError::Protocol {
                url: url.clone(),
                reason: format!("the listing is not JSON: {e}"),
            })?;
            for file in listing["files"].as_array().into_iter().flatten() {
                let Some(name) = file["path"].as_str() else { continue };
                // Paths come relative to the listed directory, or whole.
                let name = name.strip_prefix(&format!("{path}/")).unwrap_or(name);
                let name = name.rsplit('/').next().unwrap_or(name);
                let rel = if sub.is_empty() {
                    name.to_string()
                } else {
                    format!("{sub}/{name}")
                };
                if file["is_dir"].as_bool() == Some(true) {
                    if out.len() + pending.len() > registry_core::MAX_FILES {
                        return Err(ImportError::Protocol {
                            url,
                            reason: format!("more than {} files", registry_core::MAX_FILES),
                        });
                    }
                    pending.push(rel);
                } else {
                    out.push(Listed {
                        path: rel,
                        size: file["file_size"].as_u64(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Downloads `dir/rel` to `to`, returning its size and sha256; a size
    /// other than the listing's is an error.
    pub fn download(&self, dir: &str, file: &Listed, to: &Path) -> Result<(u64, String), ImportError> {
        let path: Vec<String> = format!("{dir}/{}", file.path)
            .split('/')
            .map(|s| encode(s).replace('+', "%20"))
            .collect();
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{}", self.base, path.join("/"));
        let response = self.request(&url)?;
        let io = |e: std::io::Error| ImportError::Io {
            path: to.display().to_string(),
            source: e,
        };
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut out = std::fs::File::create(to).map_err(io)?;
        let mut reader = response.into_reader();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buffer).map_err(|e| ImportError::Network {
                url: url.clone(),
                reason: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buffer[..n]);
            out.write_all(&buffer[..n]).map_err(io)?;
        }
        out.sync_all().map_err(io)?;
        if let Some(listed) = file.size
            && listed != size
        {
            return Err(ImportError::Protocol {
                url,
                reason: format!("the server listed {listed} bytes and sent {size}"),
            });
        }
        Ok((size, format!("{:x}", hasher.finalize())))
    }
}
