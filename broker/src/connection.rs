//! One client connection: the only code that touches bytes on the wire.
//!
//! A request frame is a big-endian `i32` size followed by that many bytes; the first 8 bytes of
//! every request header version are api key (`i16`), api version (`i16`) and correlation id
//! (`i32`), so they are read and checked before anything is decoded. Anything the broker cannot
//! or will not decode closes the connection after one log line naming the peer and the reason,
//! as Kafka does: a client that sent garbage cannot be answered meaningfully.
//!
//! Requests on one connection are handled one at a time, in order (Kafka mutes a connection
//! while a request is in flight), so pipelined requests are answered in the order sent.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::broker::Broker;
use crate::handlers::{self, api_versions, Reply};
use crate::storage::FileRange;

mod fetch_frame;
mod sendfile;
use fetch_frame::FramePart;

use crate::shutdown::Shutdown;

/// Smallest request frame: api key, api version and correlation id.
const MIN_FRAME: usize = 8;

/// How much buffer to add at a time while a large frame arrives, so a client that announces a
/// big frame but sends little of it does not get the whole size allocated up front.
const READ_CHUNK: usize = 1 << 20;

/// Why a connection is closed. Each becomes one log line.
#[derive(Debug, thiserror::Error)]
pub enum CloseReason {
    /// Reading or writing the socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed mid-frame")]
    Truncated,
    /// The size prefix is below the smallest possible request.
    #[error("frame size {0} is below the minimum of {MIN_FRAME}")]
    FrameTooSmall(i32),
    /// The size prefix is above `socket.request.max.bytes`.
    #[error("frame size {size} exceeds socket.request.max.bytes {max}")]
    FrameTooLarge {
        /// The size announced.
        size: i32,
        /// The configured limit.
        max: usize,
    },
    /// The request is well framed but cannot be served.
    #[error("{0}")]
    Refused(String),
}

/// A client connection with its read buffer.
///
/// Thread-safety: owned by the one task serving the connection.
#[derive(Debug)]
struct Connection {
    /// The socket.
    stream: TcpStream,
    /// Bytes read but not yet consumed as frames.
    buffer: BytesMut,
    /// `socket.request.max.bytes`.
    max_frame: usize,
    /// The peer's address as Kafka prints it (`/127.0.0.1`), reported by DescribeGroups.
    client_host: String,
}

/// Serves one connection until the client leaves, a request is refused, or shutdown. A request
/// being handled when shutdown arrives still gets its response; the server bounds the wait.
pub async fn serve(stream: TcpStream, peer: SocketAddr, broker: Arc<Broker>, shutdown: Shutdown) {
    // Responses are written whole in one call; Nagle would only delay them.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
    }
    let mut connection = Connection {
        stream,
        buffer: BytesMut::with_capacity(4096),
        max_frame: broker.config.socket_request_max_bytes,
        client_host: format!("/{}", peer.ip()),
    };
    match connection.run(&broker, shutdown).await {
        Ok(()) => tracing::debug!(%peer, "connection closed"),
        Err(CloseReason::Io(error)) => tracing::debug!(%peer, %error, "connection lost"),
        Err(reason) => tracing::warn!(%peer, %reason, "closing connection"),
    }
}

impl Connection {
    /// The request loop: read a frame, answer it, repeat.
    async fn run(&mut self, broker: &Broker, mut shutdown: Shutdown) -> Result<(), CloseReason> {
        loop {
            let frame = tokio::select! {
                frame = self.read_frame() => frame?,
                _ = shutdown.recv() => return Ok(()),
            };
            let Some(frame) = frame else {
                return Ok(());
            };
            if let Some(parts) = process(broker, frame, &self.client_host).await? {
                write_parts(&mut self.stream, parts).await?;
            }
        }
    }

    /// Reads the next whole frame (without its size prefix); `None` on a clean end of stream.
    /// Cancel-safe: bytes read so far stay in the buffer.
    async fn read_frame(&mut self) -> Result<Option<Bytes>, CloseReason> {
        loop {
            if let Some(frame) = self.parse_frame()? {
                return Ok(Some(frame));
            }
            if self.buffer.capacity() == self.buffer.len() {
                self.buffer.reserve(4096);
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(CloseReason::Truncated)
                };
            }
        }
    }

    /// Splits one frame off the buffer if it is complete; checks the size prefix as soon as it
    /// has arrived, before buffering the body.
    fn parse_frame(&mut self) -> Result<Option<Bytes>, CloseReason> {
        let Some(prefix) = self.buffer.get(..4) else {
            return Ok(None);
        };
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let body_len = usize::try_from(size).map_err(|_| CloseReason::FrameTooSmall(size))?;
        if body_len < MIN_FRAME {
            return Err(CloseReason::FrameTooSmall(size));
        }
        if body_len > self.max_frame {
            return Err(CloseReason::FrameTooLarge {
                size,
                max: self.max_frame,
            });
        }
        let total = body_len + 4;
        if self.buffer.len() < total {
            let missing = total - self.buffer.len();
            self.buffer.reserve(missing.min(READ_CHUNK));
            return Ok(None);
        }
        let mut frame = self.buffer.split_to(total);
        frame.advance(4);
        Ok(Some(frame.freeze()))
    }
}

/// A request frame after the checks and decoding.
#[derive(Debug)]
pub enum ParsedRequest {
    /// ApiVersions at a version above ours: answered per KIP-511 without decoding the body.
    ApiVersionsTooNew {
        /// The request's correlation id.
        correlation_id: i32,
    },
    /// A request to hand to its handler.
    Request {
        /// The api key.
        api: ApiKey,
        /// The request header.
        header: RequestHeader,
        /// The request body (boxed: request enums are large).
        request: Box<RequestKind>,
    },
}

/// Checks one request frame (without its size prefix) against [`api_versions::SUPPORTED`] and
/// decodes it. Pure, so it can be fuzzed; every refusal says why.
pub fn parse_request(frame: Bytes) -> Result<ParsedRequest, CloseReason> {
    let Some(&[k0, k1, v0, v1, c0, c1, c2, c3]) = frame.get(..MIN_FRAME) else {
        return Err(CloseReason::FrameTooSmall(
            i32::try_from(frame.len()).unwrap_or(i32::MAX),
        ));
    };
    let key = i16::from_be_bytes([k0, k1]);
    let version = i16::from_be_bytes([v0, v1]);
    let correlation_id = i32::from_be_bytes([c0, c1, c2, c3]);
    let api = ApiKey::try_from(key)
        .map_err(|_| CloseReason::Refused(format!("unknown api key {key}")))?;
    let (min, max) = api_versions::supported_range(api)
        .ok_or_else(|| CloseReason::Refused(format!("api {api:?} ({key}) is not served")))?;
    if api == ApiKey::ApiVersions && version > max {
        return Ok(ParsedRequest::ApiVersionsTooNew { correlation_id });
    }
    if version < min || version > max {
        return Err(CloseReason::Refused(format!(
            "{api:?} v{version} is outside the supported range {min}-{max}"
        )));
    }
    if api == ApiKey::Produce && version < 3 {
        return Err(CloseReason::Refused(format!(
            "Produce v{version} (message format v0/v1) is not supported; use v3 or later"
        )));
    }
    let mut buf = frame;
    let header = RequestHeader::decode(&mut buf, api.request_header_version(version))
        .map_err(|e| CloseReason::Refused(format!("bad {api:?} v{version} header: {e}")))?;
    let request = RequestKind::decode(api, &mut buf, version)
        .map_err(|e| CloseReason::Refused(format!("bad {api:?} v{version} body: {e:#}")))?;
    Ok(ParsedRequest::Request {
        api,
        header,
        request: Box::new(request),
    })
}

/// Most buffers handed to one `writev`, well under every platform's `IOV_MAX`.
const MAX_IOV: usize = 64;

/// Writes a response frame given as parts, in order: runs of bytes with vectored writes, so
/// record bytes go to the socket from their own buffers, and file ranges with `sendfile(2)`.
async fn write_parts(stream: &mut TcpStream, parts: Vec<FramePart>) -> std::io::Result<()> {
    let mut run = Vec::new();
    for part in parts {
        match part {
            FramePart::Bytes(b) => run.push(b),
            FramePart::File(range) => {
                write_bytes(stream, std::mem::take(&mut run)).await?;
                send_file(stream, &range).await?;
            }
        }
    }
    write_bytes(stream, run).await
}

/// Sends a file range, waiting for the socket whenever its buffer is full. On a file system
/// that cannot `sendfile`, the rest of the range goes through memory instead.
async fn send_file(stream: &mut TcpStream, range: &FileRange) -> std::io::Result<()> {
    let mut position = range.position();
    let mut left = range.len();
    while left > 0 {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            sendfile::send(stream.as_fd(), range.file(), &mut position, left)
        });
        match sent {
            // The file ended early: the frame cannot be completed, so the connection must go.
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => left = left.saturating_sub(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if sendfile::unsupported(&e) => {
                let rest = range.rest(position).read_bytes()?;
                return stream.write_all(&rest).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes byte parts in order with vectored writes.
async fn write_bytes(stream: &mut TcpStream, mut parts: Vec<Bytes>) -> std::io::Result<()> {
    let mut first = 0;
    while first < parts.len() {
        if parts[first].is_empty() {
            first += 1;
            continue;
        }
        let written = {
            let slices: Vec<std::io::IoSlice<'_>> = parts[first..]
                .iter()
                .filter(|p| !p.is_empty())
                .take(MAX_IOV)
                .map(|p| std::io::IoSlice::new(p))
                .collect();
            stream.write_vectored(&slices).await?
        };
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let mut left = written;
        while left > 0 && first < parts.len() {
            let part = &mut parts[first];
            if left >= part.len() {
                left -= part.len();
                first += 1;
            } else {
                part.advance(left);
                left = 0;
            }
        }
    }
    Ok(())
}

/// Checks, decodes and answers one request frame, as parts to write in order. `Ok(None)`:
/// nothing to send (acks=0).
async fn process(
    broker: &Broker,
    frame: Bytes,
    client_host: &str,
) -> Result<Option<Vec<FramePart>>, CloseReason> {
    let (api, header, request) = match parse_request(frame)? {
        ParsedRequest::ApiVersionsTooNew { correlation_id } => {
            // KIP-511: tell a newer client our ranges so it can retry with a version we know.
            let body = api_versions::response(ResponseError::UnsupportedVersion.code());
            let out = encode_response(correlation_id, 0, |out| body.encode(out, 0))?;
            return Ok(Some(vec![FramePart::Bytes(out.freeze())]));
        }
        ParsedRequest::Request {
            api,
            header,
            request,
        } => (api, header, request),
    };
    let version = header.request_api_version;
    let correlation_id = header.correlation_id;
    // ApiVersions answers always use header v0, so that any client can read the error.
    let header_version = if api == ApiKey::ApiVersions {
        0
    } else {
        api.response_header_version(version)
    };
    let response = match handlers::dispatch(broker, &header, *request, client_host).await {
        None => return Ok(None),
        Some(Reply::Response(response)) => response,
        Some(Reply::Fetch(reply)) => {
            return fetch_frame::encode(
                correlation_id,
                header_version,
                reply.response,
                reply.files,
                version,
            )
            .map(Some)
            .map_err(|e| {
                tracing::error!(error = %e, "cannot encode a fetch response");
                CloseReason::Refused(format!("response encoding failed: {e}"))
            });
        }
    };
    let out = encode_response(correlation_id, header_version, |out| {
        response.encode(out, version)
    })?;
    Ok(Some(vec![FramePart::Bytes(out.freeze())]))
}

/// Builds a size-prefixed response frame (header, then the body written by `body`), for the
/// caller to send in one write.
fn encode_response<E: std::fmt::Display>(
    correlation_id: i32,
    header_version: i16,
    body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<BytesMut, CloseReason> {
    let failed = |e: &dyn std::fmt::Display| {
        // Our own response did not encode: a bug, not the client's fault.
        tracing::error!(error = %e, "cannot encode a response");
        CloseReason::Refused(format!("response encoding failed: {e}"))
    };
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, header_version)
        .map_err(|e| failed(&e))?;
    body(&mut out).map_err(|e| failed(&e))?;
    let size = i32::try_from(out.len() - 4)
        .map_err(|_| CloseReason::Refused("response larger than 2 GiB".into()))?;
    out[..4].copy_from_slice(&size.to_be_bytes());
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use super::*;

    fn refused(bytes: &'static [u8]) -> String {
        match parse_request(Bytes::from_static(bytes)) {
            Err(reason) => reason.to_string(),
            Ok(parsed) => panic!("accepted {parsed:?}"),
        }
    }

    #[test]
    fn refusals_name_the_reason() {
        assert!(refused(&[0, 18, 0]).contains("below the minimum"));
        assert!(refused(&[0x27, 0x0f, 0, 0, 0, 0, 0, 1]).contains("unknown api key 9999"));
        assert!(refused(&[0, 50, 0, 0, 0, 0, 0, 1]).contains("not served"));
        assert!(refused(&[0, 3, 0, 13, 0, 0, 0, 1]).contains("outside"));
        assert!(refused(&[0, 0, 0, 2, 0, 0, 0, 1]).contains("Produce v2"));
        assert!(refused(&[0, 3, 0, 0, 0, 0, 0, 1]).contains("header"));
    }

    #[test]
    fn too_new_api_versions_is_not_decoded() {
        let parsed = parse_request(Bytes::from_static(&[0, 18, 0, 99, 0, 0, 0, 5, 0xff])).unwrap();
        assert!(matches!(
            parsed,
            ParsedRequest::ApiVersionsTooNew { correlation_id: 5 }
        ));
    }

    #[test]
    fn decodes_a_metadata_v0_request() {
        // Metadata v0, correlation 9, client id "c", topics ["t"].
        let bytes: &'static [u8] = &[0, 3, 0, 0, 0, 0, 0, 9, 0, 1, b'c', 0, 0, 0, 1, 0, 1, b't'];
        match parse_request(Bytes::from_static(bytes)).unwrap() {
            ParsedRequest::Request {
                api,
                header,
                request,
            } => {
                let RequestKind::Metadata(m) = *request else {
                    panic!("not a metadata request");
                };
                assert_eq!(api, ApiKey::Metadata);
                assert_eq!(header.correlation_id, 9);
                assert_eq!(m.topics.map(|t| t.len()), Some(1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kip_511_frame_is_header_v0_with_error_35() {
        let body = api_versions::response(35);
        let out = encode_response(77, 0, |o| body.encode(o, 0)).unwrap();
        let size = i32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(size, out.len() - 4);
        assert_eq!(&out[4..8], &77i32.to_be_bytes());
        assert_eq!(&out[8..10], &35i16.to_be_bytes());
    }
}
