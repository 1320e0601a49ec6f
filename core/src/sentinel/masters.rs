//! The monitored masters by name, with the two ways a handler looks one up.
//!
//! An input names its master (a reply tagged with it, a client's command, a
//! peer's hello); at that entry point a miss is normal — the master was
//! removed while the reply was in flight, or a client misspelt it — and the
//! handler answers or drops the input there (`get` / `get_mut`). Past the
//! entry, every step works on a master known to exist: nothing inside a
//! handler removes masters except `SENTINEL REMOVE` and `RESET`, which end
//! their handler. A miss there is a bug (a stale or wrong name) that would
//! otherwise hide as a quiet no-op, so [`Masters::known`] and
//! [`Masters::known_mut`] stop debug builds — every test and simulator
//! seed — on it, and release builds skip the step rather than crash.

use foldhash::HashMap;

use super::Master;

/// Masters by name, ordered so that every walk is deterministic.
///
/// Kept as a vector sorted by name (walks, config lines and `SENTINEL
/// MASTERS` in name order, as before), with a hash index from name to
/// position: every input names its master, and at 1 000 masters the
/// `BTreeMap` this replaces compared each name with a dozen others per
/// lookup — string comparisons were 13 % of an idle sentinel's CPU. The
/// index is only looked up and renumbered, never walked, so the hash's
/// random seed decides nothing. Masters are boxed so that inserting one in
/// the middle moves pointers, not whole masters.
#[derive(Clone, Debug, Default)]
pub struct Masters {
    sorted: Vec<(String, Box<Master>)>,
    position: HashMap<String, usize>,
}

pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, Box<Master>)>,
    fn(&'a (String, Box<Master>)) -> (&'a String, &'a Master),
>;
pub type IterMut<'a> = std::iter::Map<
    std::slice::IterMut<'a, (String, Box<Master>)>,
    fn(&'a mut (String, Box<Master>)) -> (&'a String, &'a mut Master),
>;

type Entry = (String, Box<Master>);
pub type Keys<'a> = std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> &'a String>;
pub type Values<'a> = std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> &'a Master>;
pub type ValuesMut<'a> =
    std::iter::Map<std::slice::IterMut<'a, Entry>, fn(&'a mut Entry) -> &'a mut Master>;

impl Masters {
    /// Master `name`, which the caller's entry point already resolved.
    #[track_caller]
    pub fn known(&self, name: &str) -> Option<&Master> {
        let m = self.get(name);
        debug_assert!(m.is_some(), "master {name} vanished inside a handler");
        m
    }

    /// [`Masters::known`], mutable.
    #[track_caller]
    pub fn known_mut(&mut self, name: &str) -> Option<&mut Master> {
        let m = self.get_mut(name);
        debug_assert!(m.is_some(), "master {name} vanished inside a handler");
        m
    }

    pub fn get(&self, name: &str) -> Option<&Master> {
        let i = *self.position.get(name)?;
        Some(&self.sorted[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Master> {
        let i = *self.position.get(name)?;
        Some(&mut self.sorted[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Inserts or replaces master `name`; the one replaced, if any.
    pub fn insert(&mut self, name: String, master: Master) -> Option<Master> {
        if let Some(&i) = self.position.get(&name) {
            return Some(*std::mem::replace(&mut self.sorted[i].1, Box::new(master)));
        }
        let at = self
            .sorted
            .binary_search_by(|(k, _)| k.as_str().cmp(&name))
            .unwrap_or_else(|at| at);
        for p in self.position.values_mut() {
            if *p >= at {
                *p += 1;
            }
        }
        self.position.insert(name.clone(), at);
        self.sorted.insert(at, (name, Box::new(master)));
        None
    }

    pub fn remove(&mut self, name: &str) -> Option<Master> {
        let at = self.position.remove(name)?;
        for p in self.position.values_mut() {
            if *p > at {
                *p -= 1;
            }
        }
        Some(*self.sorted.remove(at).1)
    }

    // Named iterator types (not `impl Iterator`): a borrow through them
    // ends where it is last used, as with a `BTreeMap`'s.
    pub fn iter(&self) -> Iter<'_> {
        self.into_iter()
    }

    pub fn iter_mut(&mut self) -> IterMut<'_> {
        self.into_iter()
    }

    pub fn keys(&self) -> Keys<'_> {
        self.sorted.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> Values<'_> {
        self.sorted.iter().map(|(_, m)| &**m)
    }

    pub fn values_mut(&mut self) -> ValuesMut<'_> {
        self.sorted.iter_mut().map(|(_, m)| &mut **m)
    }
}

/// `masters[name]`, as a `BTreeMap` allows: panics when it is absent.
impl std::ops::Index<&str> for Masters {
    type Output = Master;
    fn index(&self, name: &str) -> &Master {
        self.get(name).expect("no such master")
    }
}

impl std::ops::Index<&String> for Masters {
    type Output = Master;
    fn index(&self, name: &String) -> &Master {
        &self[name.as_str()]
    }
}

impl<'a> IntoIterator for &'a Masters {
    type Item = (&'a String, &'a Master);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.sorted.iter().map(|(k, m)| (k, &**m))
    }
}

impl<'a> IntoIterator for &'a mut Masters {
    type Item = (&'a String, &'a mut Master);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.sorted.iter_mut().map(|(k, m)| (&*k, &mut **m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::Addr;
    use crate::time::Millis;

    fn master(name: &str, quorum: u32) -> Master {
        Master::new(name.into(), Addr::new("127.0.0.1", 6379), quorum, Millis(0))
    }

    #[test]
    fn lookups_and_walks_agree_with_a_btreemap_through_inserts_and_removals() {
        let mut ours = Masters::default();
        let mut reference = std::collections::BTreeMap::new();
        let names = ["m5", "m1", "m10", "a", "m2", "zz", "m100", "b"];
        for (step, name) in names.iter().enumerate() {
            let quorum = step as u32 + 1;
            let m = master(name, quorum);
            assert!(ours.insert(name.to_string(), m).is_none());
            reference.insert(name.to_string(), quorum);
            if step % 3 == 2 {
                let gone = names[step - 1];
                assert_eq!(ours.remove(gone).map(|m| m.quorum), reference.remove(gone));
            }
            assert_eq!(ours.len(), reference.len());
            let walk: Vec<(&String, u32)> = ours.iter().map(|(k, m)| (k, m.quorum)).collect();
            let expected: Vec<(&String, u32)> = reference.iter().map(|(k, q)| (k, *q)).collect();
            assert_eq!(walk, expected);
            for name in names {
                assert_eq!(
                    ours.get(name).map(|m| m.quorum),
                    reference.get(name).copied()
                );
                assert_eq!(ours.contains_key(name), reference.contains_key(name));
            }
        }
        // Replacing keeps one entry and hands back the old master.
        let replaced = ours.insert("zz".into(), master("zz", 9));
        assert!(replaced.is_some());
        assert_eq!(ours.len(), reference.len());
        assert!(ours.remove("nope").is_none());
    }
}
