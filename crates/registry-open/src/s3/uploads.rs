//! Unfinished multipart uploads. A writer killed mid-upload cannot abort
//! its upload, whose parts then stay on the server, billed and in no
//! listing, until someone aborts them (or a bucket lifecycle rule does).
//! `verify --repair` lists the uploads under the registry's prefix and
//! aborts those begun longer ago than its grace period.
//!
//! object_store 0.14 can abort an upload by id but has no
//! ListMultipartUploads, so the listing is one GET of our own
//! (`GET /bucket?uploads&prefix=...`, paged by key and upload-id markers),
//! signed with the store's own credentials by object_store's
//! [`AwsAuthorizer`], and sent with the reqwest that object_store uses.

use super::S3Store;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use registry_core::store::{Store, StoreError, UploadSweep};
use serde::Deserialize;
use std::time::Duration;

/// A listing page holds at most 1,000 uploads of a few hundred bytes each;
/// a larger answer is not a listing.
const MAX_LISTING_BYTES: usize = 8 << 20;

/// What the listing request needs besides the client.
#[derive(Debug, Clone)]
pub(super) struct UploadLister {
    /// `https://host/bucket` (path style) or the virtual-hosted bucket URL.
    bucket_url: String,
    region: String,
    deadline: Duration,
}

impl UploadLister {
    /// Read from the builder before it is built: the same endpoint,
    /// addressing style and region as every other request.
    pub(super) fn new(builder: &AmazonS3Builder, bucket: &str, deadline: Duration) -> UploadLister {
        let region = builder
            .get_config_value(&AmazonS3ConfigKey::Region)
            .unwrap_or_else(|| "us-east-1".to_string());
        let virtual_hosted = builder
            .get_config_value(&AmazonS3ConfigKey::VirtualHostedStyleRequest)
            .is_some_and(|v| v == "true");
        let bucket_url = match builder.get_config_value(&AmazonS3ConfigKey::Endpoint) {
            // object_store's rule: a virtual-hosted endpoint already names
            // the bucket.
            Some(endpoint) if virtual_hosted => endpoint.trim_end_matches('/').to_string(),
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None if virtual_hosted => format!("https://{bucket}.s3.{region}.amazonaws.com"),
            None => format!("https://s3.{region}.amazonaws.com/{bucket}"),
        };
        UploadLister {
            bucket_url,
            region,
            deadline,
        }
    }
}

/// One page of ListMultipartUploads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listing {
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
    #[serde(rename = "Upload", default)]
    uploads: Vec<Upload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Upload {
    key: String,
    upload_id: String,
    initiated: Option<String>,
}

impl S3Store {
    /// [`registry_core::store::Store::abort_stale_uploads`] on S3.
    pub(super) fn sweep_uploads(&self, prefix: &str, older_than: Duration) -> Result<UploadSweep, StoreError> {
        let uploads = self.runtime.block_on(self.list_uploads(prefix))?;
        let now = time::OffsetDateTime::now_utc();
        let mut sweep = UploadSweep::default();
        for upload in uploads {
            // Listed by prefix, so only a key outside the store's own
            // form (which nothing of ours writes) fails to parse.
            let Ok(path) = Path::parse(&upload.key) else { continue };
            let Some(key) = self.key_of(&path) else { continue };
            let location = format!("{} (upload {})", self.location(key), upload.upload_id);
            let claim = match self.age(key) {
                Ok(age) => age,
                Err(StoreError::NotFound { .. }) => Some(Duration::MAX),
                Err(e) => return Err(e),
            };
            if !is_stale(upload.initiated.as_deref(), claim, now, older_than) {
                sweep.kept.push(location);
                continue;
            }
            match self.runtime.block_on(self.s3.abort_multipart(&path, &upload.upload_id)) {
                // Gone already: it completed or someone else aborted it.
                Ok(()) | Err(object_store::Error::NotFound { .. }) => sweep.aborted.push(location),
                Err(e) => return Err(self.remote_error(key, e)),
            }
        }
        Ok(sweep)
    }

    /// The bucket key that `prefix` (relative to the registry) starts with.
    fn path_prefix(&self, prefix: &str) -> String {
        if self.prefix.is_empty() {
            prefix.to_string()
        } else {
            format!("{}/{prefix}", self.prefix)
        }
    }

    /// Every unfinished upload whose key starts with `prefix` (relative
    /// to the registry), all pages.
    async fn list_uploads(&self, prefix: &str) -> Result<Vec<Upload>, StoreError> {
        let lister = &self.uploads;
        let full_prefix = self.path_prefix(prefix);
        let failed = |reason: String| StoreError::Remote {
            location: format!("{} (listing multipart uploads)", self.location(prefix)),
            reason,
        };
        let credential = object_store::CredentialProvider::get_credential(self.s3.credentials().as_ref())
            .await
            .map_err(|e| failed(super::describe(&e)))?;
        let http = reqwest::Client::builder()
            .timeout(lister.deadline)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let mut all = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut url = reqwest::Url::parse(&lister.bucket_url).map_err(|e| failed(e.to_string()))?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("uploads", "").append_pair("prefix", &full_prefix);
                if let Some((key, id)) = &markers {
                    query.append_pair("key-marker", key).append_pair("upload-id-marker", id);
                }
            }
            let mut request = http::Request::get(url.as_str())
                .body(object_store::client::HttpRequestBody::from(Vec::new()))
                .map_err(|e| failed(e.to_string()))?;
            AwsAuthorizer::new(&credential, "s3", &lister.region)
                .try_authorize(&mut request, None)
                .map_err(|e| failed(super::describe(&e)))?;
            let (parts, _) = request.into_parts();
            let mut response = http
                .request(parts.method, url)
                .headers(parts.headers)
                .send()
                .await
                .map_err(|e| failed(e.to_string()))?;
            let status = response.status();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
                if body.len() + chunk.len() > MAX_LISTING_BYTES {
                    return Err(failed(format!(
                        "the server's answer is over {MAX_LISTING_BYTES} bytes, more than a listing page can be"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            let text = String::from_utf8_lossy(&body);
            if !status.is_success() {
                return Err(failed(format!("the server answered {status}: {}", text.trim())));
            }
            let page: Listing = quick_xml::de::from_str(&text)
                .map_err(|e| failed(format!("the server's listing is not ListMultipartUploads XML: {e}")))?;
            all.extend(page.uploads);
            match (page.is_truncated, page.next_key_marker, page.next_upload_id_marker) {
                (true, Some(key), Some(id)) => {
                    // A server that pages without moving on would loop forever.
                    if markers.as_ref().is_some_and(|(k, i)| *k == key && *i == id) {
                        return Err(failed("the server's listing repeats the same page".to_string()));
                    }
                    markers = Some((key, id));
                }
                _ => return Ok(all),
            }
        }
    }
}

/// Whether an upload begun at `initiated` (the server's RFC 3339 time),
/// whose key's claim (the empty object its writer created first, see
/// `large.rs`) is `claim_age` old (`Duration::MAX`: gone, its writer gave
/// up; `None`: unknown), is older than `older_than`. Both must be: some
/// servers report a made-up start time (moto: always 2010), and a claim
/// is written just before its upload begins. Anything unknown, or a
/// server clock ahead of ours, counts as young: kept.
fn is_stale(
    initiated: Option<&str>,
    claim_age: Option<Duration>,
    now: time::OffsetDateTime,
    older_than: Duration,
) -> bool {
    let started =
        initiated.and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    let upload_old = started.is_some_and(|s| now - s >= older_than);
    upload_old && claim_age.is_some_and(|a| a >= older_than)
}

#[cfg(test)]
mod tests {
    use super::is_stale;
    use std::time::Duration;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-12-06 12:00 UTC);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn an_upload_is_stale_only_when_it_and_its_claim_are_both_past_the_grace_period() {
        let old = Some("2026-12-06T10:00:00.000Z");
        let young = Some("2026-12-06T11:30:00Z");
        assert!(is_stale(old, Some(2 * HOUR), NOW, HOUR));
        assert!(
            is_stale(old, Some(Duration::MAX), NOW, HOUR),
            "a claim its writer removed"
        );
        assert!(!is_stale(young, Some(2 * HOUR), NOW, HOUR));
        assert!(
            !is_stale(old, Some(HOUR / 2), NOW, HOUR),
            "a fresh claim: a running save"
        );
        assert!(!is_stale(old, None, NOW, HOUR), "a claim of unknown age");
        assert!(!is_stale(None, Some(2 * HOUR), NOW, HOUR), "no start time");
        assert!(!is_stale(Some("last tuesday"), Some(2 * HOUR), NOW, HOUR));
        assert!(
            !is_stale(Some("2026-12-06T13:00:00Z"), Some(2 * HOUR), NOW, HOUR),
            "a clock ahead"
        );
        assert!(is_stale(young, Some(Duration::ZERO), NOW, Duration::ZERO));
    }
}
