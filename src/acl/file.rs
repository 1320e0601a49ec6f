//! The `aclfile` on disk: the only I/O of the ACL module, kept apart so the
//! rest stays pure.

use std::io::Write;
use std::path::Path;

/// Read the whole ACL file, as bytes (passwords and patterns in it need
/// not be UTF-8).
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Replace the ACL file with `lines`: write a temp file beside it, fsync,
/// rename, so a crash never leaves a half-written file.
pub fn write(path: &Path, lines: &[Vec<u8>]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-rsentinel");
    {
        let mut f = std::fs::File::create(&tmp)?;
        for l in lines {
            f.write_all(l)?;
            f.write_all(b"\n")?;
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
