//! The sentinel command table: names, arities, flags, ACL categories and docs
//! of exactly the commands redis-sentinel 7.0 registers.

/// One command (or subcommand) of the table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name; for a subcommand, only the subcommand part (`set`).
    pub name: &'static str,
    /// Redis arity: positive = exact argc, negative = at least -arity.
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// ACL categories without the `@`.
    pub acl_categories: &'static [&'static str],
    pub subcommands: &'static [CommandSpec],
}

/// All top-level commands of the sentinel table.
pub static COMMANDS: &[CommandSpec] = &[];

/// Look up a top-level command by name, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

impl CommandSpec {
    /// Look up a subcommand by name, case-insensitively.
    pub fn subcommand(&self, name: &str) -> Option<&'static CommandSpec> {
        self.subcommands
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Whether `argc` arguments (command name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }
}
