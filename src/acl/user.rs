//! An ACL user: on/off, passwords (SHA-256), flags, the root selector and
//! extra `(...)` selectors, with Redis's rule syntax and descriptions.

use sha2::{Digest, Sha256};

use super::selector::{RuleError, Selector};

/// SHA-256 of a password as 64 lower-case hex digits, the form Redis stores
/// and shows (`#<hash>`).
pub fn hash_password(pass: &[u8]) -> String {
    Sha256::digest(pass)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash of a `#<hash>` / `!<hash>` rule, if it is 64 lower-case hex
/// digits.
fn valid_hash(h: &[u8]) -> Option<String> {
    let ok = h.len() == 64
        && h.iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    ok.then(|| h.iter().map(|&b| b as char).collect())
}

/// `sanitize-payload` / `skip-sanitize-payload` (only stored and shown: a
/// sentinel has no payloads to sanitize).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanitize {
    Sanitize,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// Password hashes, in the order they were added.
    pub passwords: Vec<String>,
    pub sanitize: Option<Sanitize>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: `off resetchannels -@all`.
    pub fn new(name: &str) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            sanitize: None,
            root: Selector::default(),
            selectors: Vec::new(),
        }
    }

    /// The built-in `default` user: `on nopass ~* &* +@all`.
    pub fn new_default() -> User {
        let mut u = User::new("default");
        for op in ["on", "nopass", "~*", "&*", "+@all"] {
            u.apply(op).expect("default rules are valid");
        }
        u
    }

    /// Apply one rule (after selector arguments were merged). Rules are
    /// bytes: a password (`>pass`, `<pass`) or a key or channel pattern is
    /// whatever the client sent, UTF-8 or not.
    pub fn apply(&mut self, op: impl AsRef<[u8]>) -> Result<(), RuleError> {
        let op = op.as_ref();
        match op {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"sanitize-payload" => self.sanitize = Some(Sanitize::Sanitize),
            b"skip-sanitize-payload" => self.sanitize = Some(Sanitize::Skip),
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                for op in [
                    "resetpass",
                    "resetkeys",
                    "resetchannels",
                    "off",
                    "clearselectors",
                    "-@all",
                    "sanitize-payload",
                ] {
                    self.apply(op)?;
                }
            }
            [b'>', pass @ ..] => self.add_hash(hash_password(pass)),
            [b'#', hash @ ..] => self.add_hash(valid_hash(hash).ok_or(RuleError::BadHash)?),
            [b'<', pass @ ..] => self.remove_hash(&hash_password(pass))?,
            [b'!', hash @ ..] => self.remove_hash(&valid_hash(hash).ok_or(RuleError::BadHash)?)?,
            [b'(', inner @ .., b')'] => {
                let mut sel = Selector::default();
                for rule in inner.split(|&b| b == b' ') {
                    sel.apply(rule)?;
                }
                self.selectors.push(sel);
            }
            _ => self.root.apply(op)?,
        }
        Ok(())
    }

    fn add_hash(&mut self, h: String) {
        self.nopass = false;
        if !self.passwords.contains(&h) {
            self.passwords.push(h);
        }
    }

    fn remove_hash(&mut self, h: &str) -> Result<(), RuleError> {
        let before = self.passwords.len();
        self.passwords.retain(|p| p != h);
        if self.passwords.len() == before {
            return Err(RuleError::NoSuchPassword);
        }
        self.nopass = false;
        Ok(())
    }

    /// Whether `pass` opens this user (disabled users never authenticate).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&hash_password(pass)))
    }

    /// The flags `ACL GETUSER` lists, in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(Sanitize::Skip) => f.push("skip-sanitize-payload"),
            Some(Sanitize::Sanitize) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// The `ACL LIST` / config-file line: `user default on nopass ~* &* +@all`.
    /// Bytes, because key and channel patterns are written as given.
    pub fn describe(&self) -> Vec<u8> {
        let mut parts: Vec<Vec<u8>> = vec![b"user".to_vec(), self.name.clone().into_bytes()];
        parts.extend(self.flags().iter().map(|f| f.as_bytes().to_vec()));
        parts.extend(self.passwords.iter().map(|p| format!("#{p}").into_bytes()));
        parts.push(self.root.describe());
        parts.extend(
            self.selectors
                .iter()
                .map(|s| [&b"("[..], &s.describe(), b")"].concat()),
        );
        parts.join(&b' ')
    }
}

/// Join arguments that belong to one `(...)` selector, as Redis does when a
/// selector was split on spaces (`(~x`, `+ping)` → `(~x +ping)`).
pub fn merge_selector_args<A: AsRef<[u8]>>(args: &[A]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut open: Option<(Vec<u8>, Vec<u8>)> = None; // (first arg, joined)
    for a in args {
        let a = a.as_ref();
        match &mut open {
            Some((_, joined)) => {
                joined.push(b' ');
                joined.extend_from_slice(a);
                if a.ends_with(b")") {
                    out.push(open.take().unwrap().1);
                }
            }
            None if a.starts_with(b"(") && !a.ends_with(b")") => {
                open = Some((a.to_vec(), a.to_vec()));
            }
            None => out.push(a.to_vec()),
        }
    }
    if let Some((first, _)) = open {
        return Err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&first)
        ));
    }
    Ok(out)
}
