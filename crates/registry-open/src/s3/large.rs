//! Large objects on S3: uploads in parts and streamed downloads, so a file
//! of any size costs a few parts of memory.
//!
//! A multipart upload cannot be made conditional (object_store 0.14 has no
//! `If-None-Match` on the completing request), yet whoever creates a
//! version's first file owns the version. So the key is claimed first with
//! a conditional create of an empty object, exactly as a small file is
//! created; the parts are uploaded only by the writer that won the claim,
//! and completing the upload replaces the empty claim. Nothing reads a file
//! before its version's metadata exists, and that is written (one
//! conditional PUT, the commit point) only after the upload completed.
//! A failed or interrupted upload is aborted and the claim removed.

use super::S3Store;
use futures::StreamExt;
use object_store::{Attribute, AttributeValue, Attributes, ObjectStoreExt, PutMultipartOptions, WriteMultipart};
use registry_core::store::{Store, StoreError};
use std::io::Read;

impl S3Store {
    /// Uploads `src` to `key` in parts of `part_size`, at most
    /// [`super::PARTS_IN_FLIGHT`] at once, after claiming the key.
    pub(super) fn create_in_parts(&self, key: &str, src: &mut dyn Read) -> Result<(), StoreError> {
        self.create(key, b"")?;
        let path = self.path(key);
        let mut attributes = Attributes::new();
        attributes.insert(
            Attribute::Metadata(super::WRITER_ATTRIBUTE.into()),
            AttributeValue::from(super::unique_writer()),
        );
        let options = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        let uploaded = self.runtime.block_on(async {
            let upload = self.client.put_multipart_opts(&path, options).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
            let mut part = vec![0u8; self.part_size];
            loop {
                let filled = match fill(src, &mut part) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Ok(Err(e));
                    }
                };
                if filled == 0 {
                    break;
                }
                if let Err(e) = writer.wait_for_capacity(super::PARTS_IN_FLIGHT).await {
                    let _ = writer.abort().await;
                    return Err(e);
                }
                writer.write(&part[..filled]);
            }
            writer.finish().await.map(|_| Ok(()))
        });
        let failed = match uploaded {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(source)) => StoreError::Io {
                location: self.location(key),
                source,
            },
            Err(e) => self.remote_error(key, e),
        };
        // The claim is ours and nothing can have committed on it.
        let _ = self.runtime.block_on(self.client.delete(&path));
        Err(failed)
    }

    /// A GET whose body is read as it arrives; the size in the response
    /// headers must be `expected`.
    pub(super) fn open_stream(&self, key: &str, expected: u64) -> Result<Box<dyn Read + Send + '_>, StoreError> {
        let path = self.path(key);
        let result = self
            .runtime
            .block_on(self.client.get(&path))
            .map_err(|e| self.remote_error(key, e))?;
        if result.meta.size != expected {
            return Err(StoreError::SizeMismatch {
                location: self.location(key),
                expected,
                actual: result.meta.size,
            });
        }
        Ok(Box::new(Body {
            store: self,
            key: key.to_string(),
            stream: result.into_stream(),
            chunk: bytes::Bytes::new(),
            left: expected,
        }))
    }
}

impl S3Store {
    /// A streamed GET passed on in blocks of `READ_BLOCK` bytes (the last
    /// may be shorter), whatever the network's chunks were.
    pub(super) fn read_stream_blocks(
        &self,
        key: &str,
        expected: u64,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<(), StoreError> {
        let mut stream = self.open_stream(key, expected)?;
        let mut block = vec![0u8; registry_core::store::READ_BLOCK.min(expected.max(1) as usize)];
        loop {
            let filled = fill(&mut stream, &mut block).map_err(|source| StoreError::Io {
                location: self.location(key),
                source,
            })?;
            if filled == 0 {
                return Ok(());
            }
            f(&block[..filled]);
        }
    }
}

/// Reads until `buf` is full or `src` ends.
fn fill(src: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The body of a GET as a blocking reader.
struct Body<'a> {
    store: &'a S3Store,
    key: String,
    stream: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
    left: u64,
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            if self.left == 0 {
                return Ok(0);
            }
            match self.store.runtime.block_on(self.stream.next()) {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => {
                    return Err(std::io::Error::other(self.store.remote_error(&self.key, e).to_string()));
                }
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("{} ended {} bytes early", self.store.location(&self.key), self.left),
                    ));
                }
            }
        }
        // Never more than the size the headers announced.
        let n = buf
            .len()
            .min(self.chunk.len())
            .min(self.left.min(usize::MAX as u64) as usize);
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        self.left -= n as u64;
        Ok(n)
    }
}
