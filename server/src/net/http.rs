//! Plain HTTP on the game port: reading a request head with a size bound, and writing a
//! short plain-text answer. [`super::routes`] decides what each request gets.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head accepted. Browsers send 1–2 KiB of headers for a WebSocket upgrade;
/// anything bigger is not a game client.
pub const MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;

/// Headers parsed per request at most.
const MAX_HEADERS: usize = 64;

/// The parts of a request head the server routes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Everything read from the connection so far (the head, and anything sent after it).
    pub bytes: Vec<u8>,
    /// Length of the head itself within `bytes`; what follows it was sent along with it.
    pub head_len: usize,
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// `Upgrade: websocket` is present.
    pub wants_websocket: bool,
    /// The headers a WebSocket upgrade needs, as sent.
    pub upgrade: UpgradeHeaders,
}

/// The headers of a WebSocket opening handshake (RFC 6455 §4.1) besides `Upgrade`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpgradeHeaders {
    /// A `Connection` header lists the `Upgrade` token.
    pub connection_upgrade: bool,
    /// The value of `Sec-WebSocket-Version`, if sent.
    pub version: Option<String>,
    /// A non-empty `Sec-WebSocket-Key` was sent.
    pub key: bool,
}

impl UpgradeHeaders {
    fn of(headers: &[httparse::Header<'_>]) -> UpgradeHeaders {
        let value = |name: &'static str| {
            headers
                .iter()
                .filter(move |header| header.name.eq_ignore_ascii_case(name))
                .map(|header| String::from_utf8_lossy(header.value).trim().to_owned())
        };
        UpgradeHeaders {
            connection_upgrade: value("connection").any(|value| {
                value
                    .split([',', ' '])
                    .any(|token| token.eq_ignore_ascii_case("upgrade"))
            }),
            version: value("sec-websocket-version").next(),
            key: value("sec-websocket-key").any(|key| !key.is_empty()),
        }
    }
}

/// Why a request head could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("request head larger than {MAX_REQUEST_HEAD_BYTES} bytes")]
    TooLarge,
    #[error("connection closed before the request head ended")]
    Closed,
    #[error("malformed HTTP request: {0}")]
    Malformed(#[from] httparse::Error),
    #[error("I/O error while reading the request: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads until the end of the request head (a blank line). Callers bound the time it may take.
pub async fn read_request_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<RequestHead, HeadError> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        bytes.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head_len) = request.parse(&bytes)? {
            // The size of the head itself, however the reads fell: a head that ends in the
            // read that crosses the limit is still too large.
            if head_len > MAX_REQUEST_HEAD_BYTES {
                return Err(HeadError::TooLarge);
            }
            let method = request.method.unwrap_or_default().to_owned();
            let path = request
                .path
                .unwrap_or_default()
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            let wants_websocket = request.headers.iter().any(|header| {
                header.name.eq_ignore_ascii_case("upgrade")
                    && std::str::from_utf8(header.value)
                        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
            });
            return Ok(RequestHead {
                head_len,
                method,
                path,
                minor_version: request.version.unwrap_or_default(),
                wants_websocket,
                upgrade: UpgradeHeaders::of(request.headers),
                bytes,
            });
        }
        // Incomplete with the limit already read: the head will be larger than the limit.
        if bytes.len() >= MAX_REQUEST_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    }
}

/// One complete HTTP answer; the connection is closed after it (`Connection: close`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: &'static str,
    pub content_type: &'static str,
    /// Headers besides the content type and length and `Connection: close`.
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text answer; the body gets a trailing newline.
    pub fn text(status: u16, reason: &'static str, body: impl Into<String>) -> Response {
        let mut body = body.into();
        body.push('\n');
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.into_bytes(),
        }
    }

    /// Writes the answer (without its body for a `HEAD` request) and flushes it.
    pub async fn write<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        head_only: bool,
    ) -> std::io::Result<()> {
        let mut bytes = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            bytes.push_str(&format!("{name}: {value}\r\n"));
        }
        bytes.push_str("\r\n");
        let mut bytes = bytes.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        stream.write_all(&bytes).await?;
        stream.flush().await
    }
}

/// Writes a complete plain-text response and flushes it. The connection is closed after.
pub async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    reason: &'static str,
    body: &str,
) -> std::io::Result<()> {
    Response::text(status, reason, body)
        .write(stream, false)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_an_upgrade_request() {
        let raw = b"GET /ws?token=abc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        let mut stream: &[u8] = raw;
        let head = read_request_head(&mut stream).await.unwrap();
        assert_eq!(head.path, "/ws");
        assert!(head.wants_websocket);
        assert_eq!(head.bytes, raw);
    }

    #[tokio::test]
    async fn the_upgrade_headers_and_bytes_after_the_head_are_recorded() {
        let raw = b"GET /ws HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n\r\nextra";
        let mut stream: &[u8] = raw;
        let head = read_request_head(&mut stream).await.unwrap();
        assert_eq!(head.minor_version, 0);
        assert_eq!(head.head_len, raw.len() - 5);
        assert_eq!(
            head.upgrade,
            UpgradeHeaders {
                connection_upgrade: true,
                version: Some("8".into()),
                key: false
            }
        );
    }

    /// A head of `size` bytes: a request line, then one padding header.
    fn head_of_size(size: usize) -> Vec<u8> {
        let start = b"GET / HTTP/1.1\r\nX: ".to_vec();
        let padding = size - start.len() - 4;
        let mut head = start;
        head.extend(std::iter::repeat_n(b'a', padding));
        head.extend(b"\r\n\r\n");
        assert_eq!(head.len(), size);
        head
    }

    #[tokio::test]
    async fn the_head_limit_is_on_the_heads_size_not_on_the_reads() {
        // Exactly at the limit: accepted.
        let at_limit = head_of_size(MAX_REQUEST_HEAD_BYTES);
        let mut stream: &[u8] = &at_limit;
        assert!(read_request_head(&mut stream).await.is_ok());
        // A little over it, completing in the read that crosses it: refused. (8,300 bytes was
        // accepted while the check only ran on incomplete heads.)
        for size in [MAX_REQUEST_HEAD_BYTES + 1, 8_300, 9_215] {
            let head = head_of_size(size);
            let mut stream: &[u8] = &head;
            assert!(
                matches!(
                    read_request_head(&mut stream).await,
                    Err(HeadError::TooLarge)
                ),
                "{size} bytes"
            );
        }
    }

    #[tokio::test]
    async fn plain_get_is_not_an_upgrade() {
        let mut stream: &[u8] = b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(
            !read_request_head(&mut stream)
                .await
                .unwrap()
                .wants_websocket
        );
    }

    #[tokio::test]
    async fn oversized_truncated_and_garbage_heads_are_errors() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_REQUEST_HEAD_BYTES + 10));
        let mut stream: &[u8] = &big;
        assert!(matches!(
            read_request_head(&mut stream).await,
            Err(HeadError::TooLarge)
        ));
        let mut stream: &[u8] = b"GET / HTTP/1.1\r\nHost";
        assert!(matches!(
            read_request_head(&mut stream).await,
            Err(HeadError::Closed)
        ));
        let mut stream: &[u8] = b"\x16\x03\x01garbage\r\n\r\n";
        assert!(matches!(
            read_request_head(&mut stream).await,
            Err(HeadError::Malformed(_))
        ));
    }
}
