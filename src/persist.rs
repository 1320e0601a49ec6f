//! Persisting the sentinel's state: the driver's config sink, which turns
//! the core's `sentinel ...` lines plus the generic options and ACL users
//! into an in-place, atomic rewrite of `sentinel.conf`.

use std::path::PathBuf;

use crate::config::{
    rewrite_file_cached, RewriteLine, ServerOptions, WrittenConfig, SENTINEL_REWRITE_KEYS,
};
use crate::driver::{ConfigSink, FlushError};
use crate::resp::split_args::quote_arg;

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

/// Joins tokens into one config line, quoting only where needed (a token
/// that is not printable ASCII, such as a binary password, is written as
/// `"\xff\xfe"`, which Redis reads back as the same bytes).
pub fn config_line<T: AsRef<[u8]>>(tokens: &[T]) -> String {
    tokens
        .iter()
        .map(|t| quote_arg(t.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

impl ConfigSink for FileSink {
    fn flush(&mut self, sentinel_lines: Vec<Vec<Vec<u8>>>) -> Result<(), FlushError> {
        let mut desired = self.options.rewrite_lines(&(self.user_lines)());
        desired.extend(
            sentinel_lines
                .iter()
                .map(|tokens| RewriteLine::new(config_line(tokens), true)),
        );
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
