//! [`Table`]: a JSON object in a config, read as key → value pairs (tier → percentage,
//! category → percentage).

use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// A small map read from a JSON object, keeping the config's order: `{"gold": 10,
/// "silver": 5}` as a `Table<Percentage>`. Look-ups are a linear scan, which is what a
/// config's handful of keys needs.
///
/// Why not `BTreeMap`/`HashMap` (which work too): each adds about 7 kB of code to a policy
/// module, this type well under 1 kB. A key that appears twice is an error.
///
/// ```
/// # use rabat_rules::{json, Percentage, Table};
/// let tiers: Table<Percentage> = json::from_str(r#"{"gold": 10, "silver": 5}"#)?;
/// assert_eq!(tiers.get("silver").map(ToString::to_string).as_deref(), Some("5"));
/// assert!(tiers.get("bronze").is_none());
/// # Ok::<(), json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Table<V>(Vec<(String, V)>);

impl<V> Table<V> {
    /// The value of `key`, if the table has it.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The keys and values, in the config's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the table has no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table(Vec::new())
    }
}

impl<K: Into<String>, V> FromIterator<(K, V)> for Table<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Table(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Table<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TableVisitor(PhantomData))
    }
}

struct TableVisitor<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for TableVisitor<V> {
    type Value = Table<V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Table<V>, A::Error> {
        let mut pairs: Vec<(String, V)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let value = map.next_value()?;
            pairs.push((key, value));
        }
        Ok(Table(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn keeps_order_and_rejects_duplicates() {
        let t: Result<Table<u32>, _> = json::from_str(r#"{"b": 2, "a": 1}"#);
        let keys: Vec<_> = t
            .iter()
            .flat_map(|t| t.iter().map(|(k, _)| k.to_string()))
            .collect();
        assert_eq!(keys, ["b", "a"]);
        let dup = json::from_str::<Table<u32>>(r#"{"a": 1, "a": 2}"#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            dup.as_deref(),
            Some("duplicate key `a` (line 1, column 13)")
        );
        let not_object = json::from_str::<Table<u32>>("[1]")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            not_object.as_deref(),
            Some("invalid type: array, expected an object (line 1, column 2)")
        );
    }
}
