//! The hand-written passthrough's side of the upstream ([`super::passthrough`]): plain
//! TCP connections to a plain-HTTP upstream, kept in this thread's [`IdlePool`], on which
//! a request's bytes are written and the answer read up to the end of its head.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::pool::IdlePool;
use crate::wire::endpoint::PlainEndpoint;
use crate::wire::http1::{self, ResponseHead};

/// Bytes asked of the upstream per read.
pub(crate) const READ_SIZE: usize = 16 * 1024;
/// A request body up to this size goes upstream in one write with its head.
const ONE_WRITE: usize = 16 * 1024;

/// This thread's idle connections to the plain upstream.
#[derive(Default)]
pub(crate) struct PlainPool {
    idle: IdlePool<TcpStream>,
}

/// The upstream's answer up to its head: the connection, the head, and what was read
/// (the head's bytes, then perhaps the first of the body).
pub(crate) struct AnswerHead {
    pub conn: TcpStream,
    pub head: ResponseHead,
    pub buf: BytesMut,
}

impl PlainPool {
    /// The most recently used idle connection that is still open.
    fn checkout(&self) -> Option<TcpStream> {
        // Open and silent: a read would block. Closed (0) or unexpected bytes: dropped.
        let silent = |conn: &mut TcpStream| matches!(conn.try_read(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        self.idle.checkout(|_| true, silent)
    }

    /// Takes back a connection whose answer ended, for the next call.
    pub(crate) fn release(&self, conn: TcpStream) {
        self.idle.release(conn);
    }

    /// Sends a request (`head` and `body`) and reads up to the end of the response head;
    /// a kept-alive connection the upstream closed meanwhile is replaced and the request
    /// sent again on a new one. An error says why the upstream could not be reached.
    pub(crate) async fn send(&self, to: &PlainEndpoint, head: &[u8], body: &[u8]) -> Result<AnswerHead, String> {
        loop {
            let (mut conn, reused) = match self.checkout() {
                Some(conn) => (conn, true),
                None => (connect(to).await?, false),
            };
            let mut buf = BytesMut::with_capacity(READ_SIZE);
            match exchange_head(&mut conn, head, body, &mut buf).await {
                Ok(head) => return Ok(AnswerHead { conn, head, buf }),
                // Nothing came back on a connection that sat idle: it was closed under us.
                Err(_) if reused && buf.is_empty() => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

async fn connect(to: &PlainEndpoint) -> Result<TcpStream, String> {
    let conn = match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&to.connect_to)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(format!("cannot connect to {}: {e}", to.connect_to)),
        Err(_) => return Err(format!("cannot connect to {}: no answer within 10 s", to.connect_to)),
    };
    let _ = conn.set_nodelay(true);
    Ok(conn)
}

/// Writes the request and reads the response head (interim 1xx heads skipped).
async fn exchange_head(
    conn: &mut TcpStream,
    head: &[u8],
    body: &[u8],
    buf: &mut BytesMut,
) -> Result<ResponseHead, String> {
    let written = if body.len() <= ONE_WRITE {
        conn.write_all(&[head, body].concat()).await
    } else {
        match conn.write_all(head).await {
            Ok(()) => conn.write_all(body).await,
            Err(e) => Err(e),
        }
    };
    written.map_err(|e| format!("sending the request failed: {e}"))?;
    loop {
        if let Some(head) = http1::parse_response(buf)? {
            if (100..200).contains(&head.status) && head.status != 101 {
                buf.advance(head.len);
                continue;
            }
            if head.status == 101 {
                return Err("the upstream switched protocols, which a recorded call cannot".into());
            }
            return Ok(head);
        }
        buf.reserve(READ_SIZE);
        match conn.read_buf(buf).await {
            Ok(0) => return Err("the upstream closed the connection before answering".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("reading the answer failed: {e}")),
        }
    }
}
