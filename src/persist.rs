//! Persisting the sentinel's state: the driver's config sink, which turns
//! the core's `sentinel ...` lines plus the generic options and ACL users
//! into an in-place, atomic rewrite of `sentinel.conf`.

use std::path::PathBuf;

use crate::config::{
    rewrite_file_cached, DesiredLines, ServerOptions, WrittenConfig, SENTINEL_REWRITE_KEYS,
};
use crate::driver::{ConfigSink, FlushError};
use rsentinel_core::sentinel::ConfigLines;

/// Produces the current `user ...` lines at flush time (bytes: ACL patterns
/// are written as given).
pub type UserLines = Box<dyn Fn() -> Vec<Vec<u8>> + Send>;

pub struct FileSink {
    path: PathBuf,
    options: ServerOptions,
    user_lines: UserLines,
    /// What the last flush wrote: the next one reuses its parse.
    last: WrittenConfig,
}

impl FileSink {
    pub fn new(path: PathBuf, options: ServerOptions, user_lines: UserLines) -> FileSink {
        FileSink {
            path,
            options,
            user_lines,
            last: WrittenConfig::default(),
        }
    }
}

impl ConfigSink for FileSink {
    fn flush(&mut self, sentinel_lines: ConfigLines) -> Result<(), FlushError> {
        let mut desired = DesiredLines::default();
        for line in self.options.rewrite_lines(&(self.user_lines)()) {
            desired.push(&line);
        }
        for line in sentinel_lines.iter() {
            desired.push_tokens(line.tokens());
        }
        let mut managed = self.options.managed_keys();
        managed.extend(SENTINEL_REWRITE_KEYS.iter().map(|k| k.to_string()));
        Ok(rewrite_file_cached(
            &self.path,
            &desired,
            &managed,
            &mut self.last,
        )?)
    }
}
