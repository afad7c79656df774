//! Kernel receive timestamps on plain TCP connections, for whichever side needs to know
//! when bytes reached this machine rather than when a busy task got round to them.
//!
//! With `SO_TIMESTAMPNS` on the socket, every `recvmsg` also returns the time the kernel
//! received the latest segment it read. Two users, one reader:
//! * the replay client (`replay::connection`): a frame's time is its arrival, not when the
//!   worker (busy parsing other connections' frames) read it, so that wait stays out of
//!   TTFT and ITL;
//! * `asb mock`'s truth log: a request's clock starts when its bytes reached the mock's
//!   socket, not when the (possibly saturated, one-core) mock read them, so the time a
//!   request queued in the socket is counted as the server's, as it is.
//!
//! Linux only, plain TCP only (under TLS the bytes hyper sees are decrypted later);
//! elsewhere, and for a read the kernel did not stamp, the clock says "unknown" and the
//! caller uses its own clock reading. The kernel starts stamping received packets a moment
//! after the first socket of the process asks ([`enable`] on a listener early helps; the
//! replay workers' connections are opened before the clock starts). The kernel's clock is
//! CLOCK_REALTIME: callers read their reference times on the same clock, and check that a
//! stamp falls where it can.
//!
//! Cost: one `recvmsg` instead of one `recv` per read, with 64 bytes of control data; no
//! extra syscall.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The receive time of the latest read on a connection, in ns since the Unix epoch
/// (0 = unknown: no read yet, or the kernel did not stamp the latest one). Shared between
/// the connection's stream and whoever times what it read.
#[derive(Clone, Default)]
pub(crate) struct RxClock(Arc<AtomicU64>);

impl RxClock {
    pub(crate) fn last_ns(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&ns| ns != 0)
    }
}

/// Asks the kernel to stamp what `socket` receives; a kernel that refuses leaves reads
/// unstamped. On a listener, the sockets it accepts inherit the option.
pub(crate) fn enable(socket: &impl AsRawFd) {
    #[cfg(target_os = "linux")]
    // SAFETY: a valid socket fd and a c_int option value of the right size.
    unsafe {
        let on: libc::c_int = 1;
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// A TCP stream whose reads record their kernel receive timestamp in an [`RxClock`].
pub(crate) struct TimestampedTcp {
    io: TcpStream,
    clock: RxClock,
}

impl TimestampedTcp {
    /// Turns receive timestamps on; a kernel that refuses just leaves the clock unset.
    pub(crate) fn new(io: TcpStream) -> (Self, RxClock) {
        enable(&io);
        let clock = RxClock::default();
        (TimestampedTcp { io, clock: clock.clone() }, clock)
    }

    /// One non-blocking `recvmsg` into `buf`: bytes read and the receive time, if any.
    fn recv(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, Option<u64>)> {
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // Room for one SCM_TIMESTAMPNS message (a timespec), aligned for cmsghdr.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is plain data; every pointer set below outlives the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: the fd is an open socket; iov points at `buf`, control at `control`.
        let n = unsafe { libc::recvmsg(self.io.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        #[allow(unused_mut)]
        let mut stamp = None;
        #[cfg(target_os = "linux")]
        // SAFETY: walking the control messages the kernel wrote, within msg_controllen.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::timespec);
                    stamp = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok((n as usize, stamp))
    }
}

impl TimestampedTcp {
    /// Reads what is there into `unfilled`, once the socket is readable, and records the
    /// read's stamp (0 when it had none, so a stale stamp never stands for new bytes).
    fn poll_recv(&self, cx: &mut Context<'_>, unfilled: &mut [MaybeUninit<u8>]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.io.poll_read_ready(cx))?;
            match self.io.try_io(Interest::READABLE, || self.recv(unfilled)) {
                Ok((n, stamp)) => {
                    if n > 0 {
                        self.clock.0.store(stamp.unwrap_or(0), Ordering::Relaxed);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl Read for TimestampedTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, mut buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        // SAFETY: recv writes only initialised bytes into the first n of the unfilled part.
        let n = ready!(self.poll_recv(cx, unsafe { buf.as_mut() }))?;
        // SAFETY: recvmsg initialised exactly n bytes.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TimestampedTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        // SAFETY: recv writes only initialised bytes into the first n of the unfilled part.
        let n = ready!(self.poll_recv(cx, unsafe { buf.unfilled_mut() }))?;
        // SAFETY: recvmsg initialised exactly n bytes.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl Write for TimestampedTcp {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl AsyncWrite for TimestampedTcp {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};
    use tokio::io::AsyncWriteExt;

    fn unix_ns() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
    }

    #[tokio::test]
    async fn reads_carry_the_kernel_receive_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (stream, clock) = TimestampedTcp::new(client);
        assert_eq!(clock.last_ns(), None);
        // The kernel turns stamping on for the whole stack a moment after a socket asks.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let before = unix_ns();
        server.write_all(b"data: hi\n\n").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let after_arrival = unix_ns();
        stream.io.readable().await.unwrap();
        let mut buf = [MaybeUninit::<u8>::uninit(); 64];
        let (n, stamp) = stream.recv(&mut buf).unwrap();
        assert_eq!(n, 10);
        if cfg!(not(target_os = "linux")) {
            return;
        }
        let ns = stamp.expect("Linux stamps TCP reads with SO_TIMESTAMPNS");
        assert!(before <= ns && ns <= after_arrival, "received at {ns}, sent at {before}, read after {after_arrival}");
    }
}
