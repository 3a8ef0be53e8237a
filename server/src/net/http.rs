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
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// `Upgrade: websocket` is present.
    pub wants_websocket: bool,
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
        if let httparse::Status::Complete(_) = request.parse(&bytes)? {
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
                bytes,
                method,
                path,
                wants_websocket,
            });
        }
        if bytes.len() > MAX_REQUEST_HEAD_BYTES {
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
