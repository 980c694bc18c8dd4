//! The canonical hash of a typed record, straight from its `Serialize` impl.
//!
//! [`canonical_hash`](super::canonical_hash) reads a `serde_json::Value`; a sync's typed records
//! used to become a `Value` only to be hashed and written out as text again (a map, a `String`
//! per key and value, all freed after the batch). This encoder feeds the same self-delimiting
//! byte stream (see `hash.rs`) from the `Serialize` calls into one buffer, sorting each object's
//! entries by key, so the hash is the very same one, bit for bit: records saved by either path
//! compare equal in change detection.
//!
//! Only what `serde_json::to_value` maps without surprises is handled here: string and integer
//! map keys, integer and `f64` numbers. Anything else (an `f32`, 128-bit integers, byte strings,
//! other map keys, a repeated key, an error from the type) answers `None`, and the caller takes
//! the `Value` path, which treats it exactly as before.

use serde::ser::{self, Serialize};
use std::fmt::Write as _;

/// A record's canonical hash and `id`, when the fast path can produce them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// The top-level `id`: a string (NUL characters removed, as `PreparedRecord::new` does) or a
    /// number's text.
    pub id: String,
    /// XXH3-128 of the canonical stream, big-endian: what `canonical_hash` gives its `Value`.
    pub hash: [u8; 16],
}

/// Encodes `record` (a JSON object with an `id` and no `_nango_metadata`); `None` for anything
/// the `Value` path must handle.
pub(crate) fn encode<T: Serialize + ?Sized>(record: &T) -> Option<Encoded> {
    let mut encoder = Encoder { out: Vec::with_capacity(1024), scratch: String::new(), depth: 0, top: None };
    record.serialize(&mut encoder).ok()?;
    let top = encoder.top?;
    let out = &encoder.out;
    if top.metadata {
        return None;
    }
    let value = &out[top.id?..];
    let id = match value.first()? {
        b's' => {
            let s = text_of(value)?;
            if s.is_empty() {
                return None;
            }
            s.replace('\0', "")
        }
        b'#' => text_of(value)?.to_owned(),
        _ => return None,
    };
    Some(Encoded { id, hash: xxhash_rust::xxh3::xxh3_128(out).to_be_bytes() })
}

/// The text of a tagged string or number in the canonical stream (tag, length, bytes).
fn text_of(value: &[u8]) -> Option<&str> {
    let len = u64::from_le_bytes(value.get(1..9)?.try_into().ok()?) as usize;
    std::str::from_utf8(value.get(9..9 + len)?).ok()
}

/// Why the fast path gave up (the caller falls back; the reason is not reported).
#[derive(Debug)]
pub(crate) struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not handled by the canonical encoder")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<M: std::fmt::Display>(_msg: M) -> Self {
        Unsupported
    }
}

/// Where the top-level object's `id` value starts in the output, and whether it has
/// `_nango_metadata`.
#[derive(Debug, Clone, Copy)]
struct Top {
    id: Option<usize>,
    metadata: bool,
}

struct Encoder {
    out: Vec<u8>,
    /// Number and `collect_str` text, reused.
    scratch: String,
    /// Objects open around the current value (0: the record itself).
    depth: usize,
    top: Option<Top>,
}

impl Encoder {
    fn tagged(&mut self, tag: u8, bytes: &[u8]) {
        self.out.push(tag);
        self.out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.out.extend_from_slice(bytes);
    }

    /// A number as `serde_json::Number` writes it.
    fn number(&mut self, number: impl std::fmt::Display) {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let _ = write!(text, "{number}");
        self.tagged(b'#', text.as_bytes());
        self.scratch = text;
    }

    fn object(&mut self) -> Object<'_> {
        let start = self.out.len();
        self.depth += 1;
        Object { encoder: self, start, entries: Vec::new(), key_end: None }
    }

    fn array(&mut self) -> Array<'_> {
        self.out.push(b'[');
        let count_at = self.out.len();
        self.out.extend_from_slice(&0u64.to_le_bytes());
        Array { encoder: self, count_at, count: 0 }
    }
}

/// An object being encoded: its entries are written as they come, then reordered by key.
struct Object<'a> {
    encoder: &'a mut Encoder,
    start: usize,
    /// Per entry: where it starts (its key's length prefix) and where its key ends.
    entries: Vec<(usize, usize)>,
    /// After a map key: where it ends, until its value comes.
    key_end: Option<usize>,
}

impl Object<'_> {
    fn key(&mut self, key: &str) {
        let entry = self.encoder.out.len();
        self.encoder.out.extend_from_slice(&(key.len() as u64).to_le_bytes());
        self.encoder.out.extend_from_slice(key.as_bytes());
        self.entries.push((entry, self.encoder.out.len()));
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(&mut *self.encoder)
    }

    /// Rewrites the entries in key order behind the object's tag and count.
    fn finish(self) -> Result<(), Unsupported> {
        let Object { encoder, start, mut entries, .. } = self;
        encoder.depth -= 1;
        let written = encoder.out.split_off(start);
        let end = written.len();
        // Entry ranges relative to `written`: [entry start, key end, entry end).
        let mut ranges: Vec<(usize, usize, usize)> = Vec::with_capacity(entries.len());
        entries.push((start + end, 0));
        for pair in entries.windows(2) {
            ranges.push((pair[0].0 - start, pair[0].1 - start, pair[1].0 - start));
        }
        let key = |r: &(usize, usize, usize)| &written[r.0 + 8..r.1];
        ranges.sort_unstable_by(|a, b| key(a).cmp(key(b)));
        if ranges.windows(2).any(|pair| key(&pair[0]) == key(&pair[1])) {
            return Err(Unsupported); // a repeated key: the `Value` keeps one, we do not guess which
        }
        encoder.out.push(b'{');
        encoder.out.extend_from_slice(&(ranges.len() as u64).to_le_bytes());
        let top = encoder.depth == 0;
        let mut found = Top { id: None, metadata: false };
        for range in &ranges {
            if top {
                match key(range) {
                    b"id" => found.id = Some(encoder.out.len() + (range.1 - range.0)),
                    b"_nango_metadata" => found.metadata = true,
                    _ => {}
                }
            }
            encoder.out.extend_from_slice(&written[range.0..range.2]);
        }
        if top {
            encoder.top = Some(found);
        }
        Ok(())
    }
}

struct Array<'a> {
    encoder: &'a mut Encoder,
    count_at: usize,
    count: u64,
}

impl Array<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.count += 1;
        value.serialize(&mut *self.encoder)
    }

    fn finish(self) {
        self.encoder.out[self.count_at..self.count_at + 8].copy_from_slice(&self.count.to_le_bytes());
    }
}

impl<'a> ser::Serializer for &'a mut Encoder {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out.push(if v { b't' } else { b'f' });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.number(serde_json::Number::from(v));
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.number(serde_json::Number::from(v));
        Ok(())
    }
    fn serialize_f32(self, _v: f32) -> Result<(), Unsupported> {
        Err(Unsupported) // widened to f64 by `to_value`: left to that path
    }
    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        match serde_json::Number::from_f64(v) {
            Some(number) => self.number(number),
            None => self.out.push(b'n'), // NaN and infinities are null in a `Value`
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.tagged(b's', v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.push(b'n');
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        let mut object = self.object();
        object.key(variant);
        object.value(value)?;
        object.finish()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>, Unsupported> {
        Ok(self.array())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Array<'a>, Unsupported> {
        Ok(self.array())
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Array<'a>, Unsupported> {
        Ok(self.array())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported) // `{variant: [...]}`: no model the generator writes has these
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, Unsupported> {
        Ok(self.object())
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Object<'a>, Unsupported> {
        if name.starts_with("$serde_json::") {
            return Err(Unsupported); // serde_json's private tokens (raw values, exact numbers)
        }
        Ok(self.object())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported) // `{variant: {...}}`: as for tuple variants
    }
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.item(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.item(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.item(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Unsupported> {
        self.key(key);
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        let text = key.serialize(MapKey)?;
        self.key(&text);
        self.key_end = Some(self.encoder.out.len());
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.key_end.take().ok_or(Unsupported)?;
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        if self.key_end.is_some() {
            return Err(Unsupported);
        }
        self.finish()
    }
}

/// A map key as `to_value` turns it into a string: strings as they are, integers as text;
/// anything else is left to that path.
struct MapKey;

impl ser::Serializer for MapKey {
    type Ok = String;
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<String, Unsupported>;
    type SerializeTuple = ser::Impossible<String, Unsupported>;
    type SerializeTupleStruct = ser::Impossible<String, Unsupported>;
    type SerializeTupleVariant = ser::Impossible<String, Unsupported>;
    type SerializeMap = ser::Impossible<String, Unsupported>;
    type SerializeStruct = ser::Impossible<String, Unsupported>;
    type SerializeStructVariant = ser::Impossible<String, Unsupported>;

    fn serialize_str(self, v: &str) -> Result<String, Unsupported> {
        Ok(v.to_owned())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Unsupported> {
        value.serialize(self)
    }
    fn serialize_bool(self, _v: bool) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i128(self, _v: i128) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u128(self, _v: u128) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f32(self, _v: f32) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _v: f64) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_char(self, _v: char) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
    ) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PreparedRecord, canonical_hash};
    use serde::Serialize;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Serialize)]
    struct Label {
        name: String,
        color: Option<String>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "lowercase")]
    enum State {
        Closed,
    }

    #[derive(Serialize)]
    enum Shape {
        Circle(f64),
    }

    #[derive(Serialize)]
    struct Extra {
        z: bool,
        a: i8,
    }

    #[derive(Serialize)]
    struct Ticket {
        title: String,
        id: String,
        number: f64,
        comments: u64,
        delta: i64,
        state: State,
        labels: Vec<Label>,
        closed_at: Option<chrono::DateTime<chrono::Utc>>,
        created_at: chrono::DateTime<chrono::Utc>,
        counts: BTreeMap<u32, Vec<Option<bool>>>,
        tags: HashMap<String, serde_json::Value>,
        shape: Shape,
        pair: (char, u16),
        nothing: (),
        not_a_number: f64,
        #[serde(flatten)]
        extra: Extra,
    }

    fn ticket(id: &str) -> Ticket {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap();
        Ticket {
            title: "Überschrift \"quoted\"\n".into(),
            id: id.into(),
            number: 42.0,
            comments: u64::MAX,
            delta: -7,
            state: State::Closed,
            labels: vec![
                Label { name: "bug".into(), color: None },
                Label { name: "ui".into(), color: Some("red".into()) },
            ],
            closed_at: None,
            created_at: at,
            counts: BTreeMap::from([(10, vec![Some(true), None]), (2, vec![])]),
            tags: HashMap::from([
                ("b".to_string(), serde_json::json!({"y": [1.5, "x"], "x": null})),
                ("a".to_string(), serde_json::json!(0.1)),
            ]),
            shape: Shape::Circle(2.5e-7),
            pair: ('é', 7),
            nothing: (),
            not_a_number: f64::NAN,
            extra: Extra { z: false, a: -1 },
        }
    }

    /// The fast path must give exactly what the `Value` path gives: change detection compares
    /// hashes written by either.
    #[test]
    fn typed_records_hash_like_their_values() {
        for record in [ticket("t-1"), ticket("with\0nul"), ticket("9")] {
            let value = serde_json::to_value(&record).unwrap();
            let encoded = encode(&record).expect("handled by the fast path");
            let slow = PreparedRecord::new("Ticket", value.clone()).unwrap();
            assert_eq!(encoded.hash, canonical_hash(&value));
            assert_eq!(encoded.id, slow.id);
            assert_eq!(PreparedRecord::from_typed("Ticket", &record).unwrap(), slow);
        }
    }

    #[test]
    fn numeric_ids_and_fallbacks() {
        #[derive(Serialize)]
        struct Numbered {
            id: u64,
            ratio: f32,
        }
        #[derive(Serialize)]
        struct Plain {
            id: i32,
            _nango_metadata: Option<u8>,
        }
        #[derive(Serialize)]
        struct NoId {
            name: &'static str,
        }
        // An f32 is left to the `Value` path, which still gives the same record.
        let numbered = Numbered { id: 7, ratio: 0.1 };
        assert!(encode(&numbered).is_none());
        let typed = PreparedRecord::from_typed("N", &numbered).unwrap();
        assert_eq!(typed, PreparedRecord::new("N", serde_json::to_value(&numbered).unwrap()).unwrap());
        assert_eq!(typed.id, "7");
        // `_nango_metadata` is dropped by the `Value` path.
        let plain = Plain { id: -3, _nango_metadata: Some(1) };
        assert!(encode(&plain).is_none());
        assert_eq!(PreparedRecord::from_typed("P", &plain).unwrap().text, r#"{"id":-3}"#);
        // No id: the `Value` path's error.
        let e = PreparedRecord::from_typed("X", &NoId { name: "n" }).unwrap_err();
        assert!(e.contains("Missing id field"), "{e}");
        assert!(encode(&serde_json::json!({"id": ""})).is_none());
        assert_eq!(encode(&serde_json::json!({"id": 12})).unwrap().id, "12");
        // Not an object at all.
        assert!(PreparedRecord::from_typed("X", &[1, 2]).unwrap_err().contains("must be a JSON object"));
    }
}
