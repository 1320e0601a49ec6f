//! The `aclfile` on disk: the only I/O of the ACL module, kept apart so the
//! rest stays pure.

use std::io::Write;
use std::path::Path;

/// Read the whole ACL file.
pub fn read(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// Replace the ACL file with `lines`: write a temp file beside it, fsync,
/// rename, so a crash never leaves a half-written file.
pub fn write(path: &Path, lines: &[String]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-rsentinel");
    {
        let mut f = std::fs::File::create(&tmp)?;
        for l in lines {
            writeln!(f, "{l}")?;
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
