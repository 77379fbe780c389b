//! Reading the local files rotor is given (key files, pidfiles, file targets) safely:
//! only regular files (a FIFO or a device would block or never end), and never more
//! than a stated number of bytes.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zeroize::Zeroizing;

/// Opens `path` for reading, refusing anything but a regular file (after symlinks).
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        // A FIFO must not block the open waiting for a writer; on a regular file the
        // flag has no effect.
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// The whole of the regular file `path`, or an error when it is larger than `max`
/// bytes. The buffer is wiped when dropped (it may hold keys).
pub fn read_regular(path: &Path, max: u64) -> io::Result<Zeroizing<Vec<u8>>> {
    let file = open_regular(path)?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_fifo_a_directory_and_an_oversized_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let e = read_regular(&fifo, 10).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_regular(dir.path(), 10).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert!(read_regular(&big, 10).is_err());
        assert_eq!(read_regular(&big, 11).unwrap().len(), 11);
    }
}
