//! A map kept as a sorted vector, for the per-master maps of replicas and
//! peer sentinels: they hold one to a handful of entries each, and a
//! `BTreeMap`'s first node has room for 11 (~370 bytes for two entries of
//! a key and a box) where this holds exactly what it needs. One such map
//! per master per kind, at 1 000 masters, is most of what it saves.
//!
//! Iteration is in key order, as with the `BTreeMap` it replaces (config
//! lines and `SENTINEL SENTINELS` are written in that order).

use std::borrow::Borrow;

#[derive(Clone, Debug)]
pub struct SmallMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Inserts or replaces; the value replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                // Grow by one: these maps hardly ever change size.
                self.entries.reserve_exact(1);
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(key).ok()?;
        let (_, v) = self.entries.remove(i);
        if self.entries.is_empty() {
            self.entries = Vec::new();
        }
        Some(v)
    }

    pub fn clear(&mut self) {
        self.entries = Vec::new();
    }

    // Named iterator types (not `impl Iterator`): a borrow through them
    // ends where it is last used, as with a `BTreeMap`'s.
    pub fn iter(&self) -> Iter<'_, K, V> {
        self.into_iter()
    }

    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        self.into_iter()
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = K> + ExactSizeIterator {
        self.entries.into_iter().map(|(k, _)| k)
    }
}

/// `map[key]`, as a `BTreeMap` allows: panics when the key is absent.
impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for SmallMap<K, V> {
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for this key")
    }
}

pub type Iter<'a, K, V> =
    std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
pub type IterMut<'a, K, V> =
    std::iter::Map<std::slice::IterMut<'a, (K, V)>, fn(&'a mut (K, V)) -> (&'a K, &'a mut V)>;

impl<'a, K: Ord, V> IntoIterator for &'a SmallMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a mut SmallMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_keys_sorted_and_unique_like_a_btreemap() {
        let mut m = SmallMap::new();
        let mut b = std::collections::BTreeMap::new();
        for (i, k) in ["c", "a", "d", "a", "b", "c"].iter().enumerate() {
            assert_eq!(m.insert(k.to_string(), i), b.insert(k.to_string(), i));
        }
        assert!(m.iter().map(|(k, v)| (k.clone(), *v)).eq(b));
        assert_eq!(m.get("a"), Some(&3));
        assert_eq!(m.remove("c"), Some(5));
        assert_eq!(m.remove("c"), None);
        assert!(!m.contains_key("c"));
        assert_eq!(m.keys().cloned().collect::<Vec<_>>(), ["a", "b", "d"]);
        *m.get_mut("b").unwrap() = 9;
        assert_eq!(m.values().copied().collect::<Vec<_>>(), [3, 9, 2]);
        for k in ["a", "b", "d"] {
            m.remove(k);
        }
        assert!(m.is_empty());
        assert_eq!(m.entries.capacity(), 0, "an emptied map holds nothing");
    }
}
