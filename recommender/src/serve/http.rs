//! A deliberately small HTTP/1.1 layer over tokio sockets: one request per connection
//! (`Connection: close`), bodies sized by `Content-Length` up to a cap, and server-sent event
//! streams. The only code of `serve` that touches HTTP bytes.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::EdgeError;

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted (one event).
pub const MAX_BODY: usize = 64 * 1024;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The query string (after `?`), empty when there is none.
    pub query: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of query parameter `name` (no percent-decoding: the parameters this server
    /// takes are plain words and numbers).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// Why a request could not be read; each maps to a status code.
#[derive(Debug)]
pub enum BadRequest {
    /// The peer closed or timed out, or the socket failed: nothing to answer.
    Gone,
    /// 400 with a message.
    Malformed(&'static str),
    /// 413.
    TooLarge,
}

/// Reads one request from `stream`.
pub async fn read_request(stream: &mut TcpStream) -> Result<Request, BadRequest> {
    tokio::time::timeout(READ_TIMEOUT, read_inner(stream))
        .await
        .unwrap_or(Err(BadRequest::Gone))
}

async fn read_inner(stream: &mut TcpStream) -> Result<Request, BadRequest> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p;
        }
        if buf.len() > MAX_HEAD {
            return Err(BadRequest::TooLarge);
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| BadRequest::Gone)?;
        if n == 0 {
            return Err(BadRequest::Gone);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| BadRequest::Malformed("head"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().ok_or(BadRequest::Malformed("request line"))?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let mut length = 0usize;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| BadRequest::Malformed("content-length"))?;
            }
        }
    }
    if length > MAX_BODY {
        return Err(BadRequest::TooLarge);
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| BadRequest::Gone)?;
        if n == 0 {
            return Err(BadRequest::Gone);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Request {
        method,
        path,
        query,
        body,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A complete response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    /// A JSON error `{"error": message}`.
    pub fn error(status: u16, message: &str) -> Response {
        Response::json(status, &serde_json::json!({ "error": message }))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Writes `r` and closes the write side.
pub async fn write_response(stream: &mut TcpStream, r: &Response) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&r.body).await?;
    stream.shutdown().await
}

/// Starts a server-sent event stream.
pub async fn start_events(stream: &mut TcpStream) -> std::io::Result<()> {
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        )
        .await
}

/// Sends one server-sent event (`data` must not contain newlines; JSON from serde has none).
pub async fn send_event(stream: &mut TcpStream, name: &str, data: &str) -> std::io::Result<()> {
    let frame = format!("event: {name}\ndata: {data}\n\n");
    stream.write_all(frame.as_bytes()).await?;
    stream.flush().await
}

/// A minimal client: `GET path` on `addr`, returning status and body (used by the simulator
/// and the tests).
pub async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), EdgeError> {
    request(addr, "GET", path, b"").await
}

/// A minimal client request with a JSON body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, String), EdgeError> {
    let run = async {
        let mut s = TcpStream::connect(addr).await?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, EdgeError>(out)
    };
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .map_err(|_| EdgeError::Timeout(format!("{method} {path}")))??;
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Sends `bytes` to a fresh server socket and returns what `read_request` made of them.
    async fn parse(bytes: &'static [u8]) -> Result<Request, BadRequest> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(bytes).await.unwrap();
            s.shutdown().await.unwrap();
            // Keep the socket open until the server has read.
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        });
        let (mut server, _) = listener.accept().await.unwrap();
        let r = read_request(&mut server).await;
        drop(server);
        client.await.unwrap();
        r
    }

    #[tokio::test]
    async fn reads_a_post_with_its_body_and_strips_the_query() {
        let r = parse(b"POST /users/7/events?x=1 HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdEXTRA")
            .await
            .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/users/7/events");
        assert_eq!(r.body, b"abcd");
    }

    #[tokio::test]
    async fn bad_requests_are_errors_not_panics() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").await,
            Err(BadRequest::TooLarge)
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").await,
            Err(BadRequest::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GARBAGE\r\n\r\n").await,
            Err(BadRequest::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort").await,
            Err(BadRequest::Gone)
        ));
        assert!(matches!(
            parse(b"\xff\xfe\r\n\r\n").await,
            Err(BadRequest::Malformed(_))
        ));
    }
}
