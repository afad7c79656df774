//! Compressed recordings (`.jsonl.gz`, `.jsonl.zst`): which codec a file is in, reading it
//! decompressed, writing a line as a self-contained frame, and finding where the last
//! whole frame ends (for repairing a file whose recorder was killed mid-write).
//!
//! A file's codec is told by its first bytes (gzip `1f 8b`, zstd `28 b5 2f fd`), never by its
//! name alone: a renamed file reads the same. A new file is compressed when its name ends in
//! `.gz` or `.zst`; an existing one keeps the codec its bytes show.
//!
//! The writer compresses each call's line as a frame of its own (a zstd frame, a gzip
//! member), and a reader decodes the frames one after another as one stream. A frame is
//! whole or not there: a `kill -9` leaves at worst a torn last frame, which the writer cuts
//! off when it opens the file again, as it does a torn last line of plain JSONL. The cost
//! is the ratio: a frame cannot refer to the lines before it, so the repetition between
//! calls (an agent sends its whole conversation again with each call) is not used
//! (measured in BENCHMARKS.md); `zstd -19 --long` on a finished recording gives the best
//! ratio, and every reader reads its result.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

/// How a recording's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Plain,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// zstd's level for the writer's frames: its default, ≈ 300 MB/s on one core.
const ZSTD_LEVEL: i32 = 3;

/// Read buffers: 1 MiB, as for plain files.
const READ_BUFFER: usize = 1 << 20;

impl Codec {
    /// The codec of a file that starts with `head` (plain when it is neither magic).
    pub(crate) fn from_magic(head: &[u8]) -> Codec {
        if head.starts_with(&ZSTD_MAGIC) {
            Codec::Zstd
        } else if head.starts_with(&GZIP_MAGIC) {
            Codec::Gzip
        } else {
            Codec::Plain
        }
    }

    /// The codec for a new file at `path`, by its name: `.gz`, `.zst`, else plain.
    pub(crate) fn for_new_file(path: &Path) -> Codec {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Codec::Gzip,
            Some("zst") => Codec::Zstd,
            _ => Codec::Plain,
        }
    }

    /// `line` (whole lines, each with its newline) as the bytes to append: itself, or one
    /// complete frame holding it.
    pub(crate) fn frame(self, line: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Codec::Plain => Ok(line.to_vec()),
            Codec::Zstd => zstd::bulk::compress(line, ZSTD_LEVEL),
            Codec::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(line)?;
                encoder.finish()
            }
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Codec::Plain => "plain",
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        })
    }
}

/// A recording opened for reading, decompressed when its first bytes say it is compressed.
pub(crate) struct Decoded {
    pub reader: Box<dyn BufRead + Send>,
    pub codec: Codec,
}

/// Opens `file` for reading its lines, whatever its codec.
pub(crate) fn decode(file: File) -> io::Result<Decoded> {
    let mut raw = BufReader::with_capacity(READ_BUFFER, file);
    // A regular file fills the buffer in one read, so the magic is there if the file has it.
    let codec = Codec::from_magic(raw.fill_buf()?);
    let reader: Box<dyn BufRead + Send> = match codec {
        Codec::Plain => Box::new(raw),
        Codec::Gzip => Box::new(BufReader::with_capacity(READ_BUFFER, flate2::bufread::MultiGzDecoder::new(raw))),
        Codec::Zstd => Box::new(BufReader::with_capacity(READ_BUFFER, zstd::stream::read::Decoder::with_buffer(raw)?)),
    };
    Ok(Decoded { reader, codec })
}

/// Why a compressed stream could not be read, in words for a `FILE:LINE` problem.
pub(crate) fn decode_error_reason(codec: Codec, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        format!(
            "the {codec} stream ends inside a frame (was the recorder stopped mid-write? `asb record` cuts a torn \
             last frame off when it opens the file again)"
        )
    } else {
        format!("the {codec} stream cannot be decompressed: {e}")
    }
}

/// The length of `file` up to the end of its last complete frame (each frame decoded to
/// check it), or `None` for a plain file. Reads the file from its start.
pub(crate) fn end_of_whole_frames(file: &mut File, codec: Codec) -> io::Result<Option<u64>> {
    use std::io::{Seek, SeekFrom};
    if codec == Codec::Plain {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(0))?;
    let mut input = Counting { inner: BufReader::with_capacity(READ_BUFFER, &*file), consumed: 0 };
    let mut good = 0;
    loop {
        if input.fill_buf()?.is_empty() {
            break;
        }
        let whole = match codec {
            Codec::Zstd => {
                let frame = zstd::stream::read::Decoder::with_buffer(&mut input).map(|d| d.single_frame());
                frame.and_then(|mut d| io::copy(&mut d, &mut io::sink())).is_ok()
            }
            Codec::Gzip => io::copy(&mut flate2::bufread::GzDecoder::new(&mut input), &mut io::sink()).is_ok(),
            Codec::Plain => unreachable!("returned above"),
        };
        if !whole || input.consumed == good {
            break;
        }
        good = input.consumed;
    }
    Ok(Some(good))
}

/// A buffered reader that counts the bytes its user consumed.
struct Counting<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};

    fn frames(codec: Codec, lines: &[&str]) -> Vec<u8> {
        lines.iter().flat_map(|l| codec.frame(l.as_bytes()).unwrap()).collect()
    }

    fn read_all(bytes: &[u8]) -> (Codec, io::Result<String>) {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut d = decode(f).unwrap();
        let mut text = String::new();
        let result = d.reader.read_to_string(&mut text).map(|_| text);
        (d.codec, result)
    }

    #[test]
    fn frames_read_back_as_one_stream_by_their_magic() {
        for codec in [Codec::Plain, Codec::Gzip, Codec::Zstd] {
            let bytes = frames(codec, &["{\"seq\":1}\n", "{\"seq\":2}\n"]);
            let (seen, text) = read_all(&bytes);
            assert_eq!(seen, codec);
            assert_eq!(text.unwrap(), "{\"seq\":1}\n{\"seq\":2}\n");
        }
        assert_eq!(Codec::for_new_file(Path::new("a/x.jsonl.zst")), Codec::Zstd);
        assert_eq!(Codec::for_new_file(Path::new("x.jsonl.gz")), Codec::Gzip);
        assert_eq!(Codec::for_new_file(Path::new("x.jsonl")), Codec::Plain);
    }

    #[test]
    fn a_torn_last_frame_is_an_unexpected_end_and_is_found() {
        for codec in [Codec::Gzip, Codec::Zstd] {
            let mut bytes = frames(codec, &["{\"seq\":1}\n", "{\"seq\":2}\n"]);
            let whole = bytes.len() as u64;
            let third = codec.frame(b"{\"seq\":3,\"model\":\"a longer line to cut\"}\n").unwrap();
            bytes.extend_from_slice(&third[..third.len() - 5]);
            let (_, text) = read_all(&bytes);
            let e = text.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{codec}: {e}");
            assert!(decode_error_reason(codec, &e).contains("ends inside a frame"));
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&bytes).unwrap();
            assert_eq!(end_of_whole_frames(&mut f, codec).unwrap(), Some(whole), "{codec}");
            // Garbage after whole frames is cut off too.
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&frames(codec, &["{\"seq\":1}\n"])).unwrap();
            let one = f.metadata().unwrap().len();
            f.write_all(b"\x00garbage").unwrap();
            assert_eq!(end_of_whole_frames(&mut f, codec).unwrap(), Some(one), "{codec}");
        }
    }
}
