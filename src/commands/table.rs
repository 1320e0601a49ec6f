//! The sentinel command table: names, arities, flags, ACL categories and docs
//! of exactly the commands redis-sentinel 7.0 registers (plus valkey 8's
//! `SENTINEL PRIMARY…` aliases). The data itself lives in `table_data.rs`,
//! generated from the real binary by `scripts/gen_command_table.py`.

use rsentinel_core::names::is_name;

/// One command (or subcommand) of the table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name; for a subcommand, only the subcommand part (`set`).
    pub name: &'static str,
    /// What Redis calls the full name: `ping`, `sentinel|set`.
    pub full_name: &'static str,
    /// Redis arity: positive = exact argc, negative = at least -arity.
    pub arity: i32,
    /// Command flags as `COMMAND INFO` spells them (`admin`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// Legacy key positions (always 0/0/0 in the sentinel table).
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    /// ACL categories without the `@`, in `COMMAND INFO` order.
    pub acl_categories: &'static [&'static str],
    /// Command tips (`request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
    /// Key specs; no sentinel command takes keys, so these are all empty,
    /// but the shape is kept so `COMMAND INFO` stays generic.
    pub key_specs: &'static [KeySpec],
    pub subcommands: &'static [CommandSpec],
    pub docs: CommandDocs,
}

/// Where keys start, as in a Redis key spec's `begin_search`.
#[derive(Debug)]
pub enum BeginSearch {
    Index(i32),
    Keyword {
        keyword: &'static str,
        start_from: i32,
    },
}

/// How keys continue, as in a Redis key spec's `find_keys`.
#[derive(Debug)]
pub enum FindKeys {
    Range {
        last_key: i32,
        key_step: i32,
        limit: i32,
    },
    Keynum {
        keynum_idx: i32,
        first_key: i32,
        key_step: i32,
    },
}

/// One key spec of a command.
#[derive(Debug)]
pub struct KeySpec {
    pub flags: &'static [&'static str],
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

/// What `COMMAND DOCS` reports for a command.
#[derive(Debug)]
pub struct CommandDocs {
    pub summary: &'static str,
    pub since: &'static str,
    pub group: &'static str,
    pub complexity: Option<&'static str>,
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    /// `(version, change)` pairs.
    pub history: &'static [(&'static str, &'static str)],
    pub arguments: &'static [Arg],
}

/// One node of a command's documented argument tree.
#[derive(Debug)]
pub struct Arg {
    pub name: &'static str,
    /// `string`, `integer`, `oneof`, `block`, `pure-token`, ...
    pub kind: &'static str,
    pub key_spec_index: Option<i32>,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    /// `optional`, `multiple`, `multiple_token`.
    pub flags: &'static [&'static str],
    pub arguments: &'static [Arg],
}

/// All top-level commands of the sentinel table, sorted by name.
pub static COMMANDS: &[CommandSpec] = super::table_data::COMMANDS_DATA;

/// Look up a top-level command by name, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    lookup_bytes(name.as_bytes())
}

/// [`lookup`] of a name as the client sent it (no UTF-8 check: every name
/// in the table is ASCII).
pub fn lookup_bytes(name: &[u8]) -> Option<&'static CommandSpec> {
    find_name(COMMANDS, name)
}

/// Finds `name` case-insensitively in `specs` (lower-case names).
fn find_name(specs: &'static [CommandSpec], name: &[u8]) -> Option<&'static CommandSpec> {
    specs.iter().find(|c| is_name(c.name, name))
}

/// Look up a command by what Redis calls its full name (`ping`,
/// `sentinel|set`), case-insensitively, the way `COMMAND INFO`/`DOCS` and
/// ACL rules name commands. A container alone (`sentinel`) is found too.
pub fn lookup_full(name: &str) -> Option<&'static CommandSpec> {
    match name.split_once('|') {
        None => lookup(name),
        Some((parent, sub)) => lookup(parent)?.subcommand(sub),
    }
}

/// Every command and subcommand, each parent directly followed by its
/// subcommands: the order `COMMAND LIST` and `ACL CAT <cat>` walk.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

impl CommandSpec {
    /// Look up a subcommand by name, case-insensitively.
    pub fn subcommand(&self, name: &str) -> Option<&'static CommandSpec> {
        self.subcommand_bytes(name.as_bytes())
    }

    /// [`CommandSpec::subcommand`] of a name as the client sent it.
    pub fn subcommand_bytes(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        find_name(self.subcommands, name)
    }

    /// Whether `argc` arguments (command name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    /// Whether a call with `argc` arguments is accepted: the arity, plus
    /// the one argument rsentinel takes beyond Redis 7.0's table
    /// (`SENTINEL FAILOVER <name> COORDINATED`, valkey 9's form) without
    /// changing what COMMAND reports.
    pub fn accepts_argc(&self, argc: usize) -> bool {
        self.arity_ok(argc) || (self.full_name == "sentinel|failover" && argc == 4)
    }

    /// Whether this command carries the flag (`admin`, `noauth`, ...).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether this command is in the ACL category (name without `@`).
    pub fn in_category(&self, category: &str) -> bool {
        self.acl_categories.contains(&category)
    }

    /// Whether this is a container (`SENTINEL`, `CLIENT`, ...).
    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// valkey 8's `SENTINEL PRIMARY…` names: they work as commands (and in
    /// ACL rules, as their `master` twins), but redis-sentinel 7.0 has no
    /// such commands, so `COMMAND` never shows them.
    pub fn is_valkey_alias(&self) -> bool {
        VALKEY_ALIASES.contains(&self.full_name)
    }

    /// The subcommands `COMMAND` shows: the 7.0 ones, no aliases.
    pub fn listed_subcommands(&self) -> impl Iterator<Item = &'static CommandSpec> {
        self.subcommands.iter().filter(|s| !s.is_valkey_alias())
    }
}

const VALKEY_ALIASES: [&str; 4] = [
    "sentinel|primary",
    "sentinel|primaries",
    "sentinel|get-primary-addr-by-name",
    "sentinel|is-primary-down-by-addr",
];

/// Like [`lookup_full`], but only what redis-sentinel 7.0's `COMMAND`
/// knows: the valkey aliases are unknown there.
pub fn lookup_listed(name: &str) -> Option<&'static CommandSpec> {
    lookup_full(name).filter(|c| !c.is_valkey_alias())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_and_found_in_any_case() {
        let lists = std::iter::once(COMMANDS).chain(COMMANDS.iter().map(|c| c.subcommands));
        for list in lists {
            for c in list {
                assert!(!c.name.is_empty());
                assert_eq!(c.name, c.name.to_ascii_lowercase());
                let upper = c.name.to_ascii_uppercase();
                assert!(std::ptr::eq(find_name(list, upper.as_bytes()).unwrap(), c));
            }
        }
        // Found whatever the case, and nothing by a prefix or a longer name.
        assert_eq!(lookup_bytes(b"SeNtInEl").map(|c| c.name), Some("sentinel"));
        let sentinel = lookup("sentinel").unwrap();
        let sub = sentinel.subcommand_bytes(b"GET-MASTER-addr-by-name");
        assert_eq!(
            sub.map(|c| c.full_name),
            Some("sentinel|get-master-addr-by-name")
        );
        assert!(lookup_bytes(b"sentine").is_none());
        assert!(lookup_bytes(b"").is_none());
        assert!(sentinel.subcommand_bytes(b"").is_none());
        assert!(lookup_bytes(b"sentinel|set").is_none());
    }

    #[test]
    fn table_has_exactly_the_fifteen_sentinel_commands() {
        let names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "acl",
                "auth",
                "client",
                "command",
                "hello",
                "info",
                "ping",
                "psubscribe",
                "publish",
                "punsubscribe",
                "role",
                "sentinel",
                "shutdown",
                "subscribe",
                "unsubscribe"
            ]
        );
        assert!(lookup("quit").is_none());
    }

    #[test]
    fn lookup_is_case_insensitive_and_finds_subcommands() {
        let sentinel = lookup("SeNtInEl").unwrap();
        assert_eq!(sentinel.subcommand("SET").unwrap().arity, -5);
        assert_eq!(
            lookup_full("SENTINEL|Is-Master-Down-By-Addr")
                .unwrap()
                .arity,
            6
        );
        assert!(lookup_full("sentinel|").is_none());
        assert!(lookup_full("|set").is_none());
    }

    #[test]
    fn primary_aliases_mirror_their_master_counterparts() {
        let s = lookup("sentinel").unwrap();
        for (alias, orig) in [
            ("primary", "master"),
            ("primaries", "masters"),
            ("get-primary-addr-by-name", "get-master-addr-by-name"),
            ("is-primary-down-by-addr", "is-master-down-by-addr"),
        ] {
            let a = s.subcommand(alias).unwrap();
            let o = s.subcommand(orig).unwrap();
            assert_eq!(a.arity, o.arity, "{alias}");
            assert_eq!(a.acl_categories, o.acl_categories, "{alias}");
            assert_eq!(a.full_name, format!("sentinel|{alias}"));
        }
    }

    #[test]
    fn full_names_match_parent_and_name() {
        for c in COMMANDS {
            assert_eq!(c.full_name, c.name);
            for s in c.subcommands {
                assert_eq!(s.full_name, format!("{}|{}", c.name, s.name));
            }
        }
    }
}
