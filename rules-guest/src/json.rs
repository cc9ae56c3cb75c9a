//! A small JSON reader for `serde`, used for the merchant's config.
//!
//! Why not `serde_json`: measured in a policy module it costs several times the code of
//! this reader (see the SDK's README), and its `arbitrary_precision` feature, which the
//! host enables, changes how numbers reach `Decimal` whenever both are built together.
//! This reader is exact for money: a number with a fraction or an exponent reaches
//! `deserialize_any` (which is how `Decimal` and other self-describing types ask) as its
//! exact text, never through a float; `f32`/`f64` fields get a float as usual. Integers
//! arrive as `i64`/`u64`.
//!
//! Errors name where they happened, e.g. ``tiers.gold: invalid value: string "ten",
//! expected a Decimal type representing a fixed-point number (line 1, column 22)``.

use core::fmt;
use std::borrow::Cow;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer as _, IntoDeserializer, Visitor};

/// How deeply arrays and objects may nest (each level takes stack).
const MAX_DEPTH: usize = 64;

/// Parses `text` as JSON into `T`.
///
/// ```
/// # use rabat_rules::json;
/// let tiers: std::collections::BTreeMap<String, u32> = json::from_str(r#"{"gold": 10}"#)?;
/// assert_eq!(tiers["gold"], 10);
/// # Ok::<(), json::Error>(())
/// ```
pub fn from_str<'de, T: de::Deserialize<'de>>(text: &'de str) -> Result<T, Error> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    let value = T::deserialize(&mut parser)
        .and_then(|value| {
            parser.skip_ws();
            if parser.pos < text.len() {
                Err(parser.error("trailing characters after the JSON value"))
            } else {
                Ok(value)
            }
        })
        .map_err(|mut e| {
            let offset = e.offset.unwrap_or(parser.pos).min(text.len());
            let before = text.as_bytes().get(..offset).unwrap_or_default();
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = offset
                - before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1)
                + 1;
            e.line_column = Some((line, column));
            e
        })?;
    Ok(value)
}

/// What is wrong with a JSON text, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    message: String,
    /// Object keys and array indexes from the innermost outwards.
    path: Vec<Segment>,
    offset: Option<usize>,
    line_column: Option<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl Error {
    /// What is wrong, without the place.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where, as a path of keys and indexes (`tiers.gold`, `days[2]`); empty at the top.
    pub fn path(&self) -> String {
        let mut path = String::new();
        for segment in self.path.iter().rev() {
            match segment {
                Segment::Key(key) if path.is_empty() => path.push_str(key),
                Segment::Key(key) => {
                    path.push('.');
                    path.push_str(key);
                }
                Segment::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        path
    }

    fn within(mut self, segment: Segment) -> Error {
        self.path.push(segment);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if !path.is_empty() {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some((line, column)) = self.line_column {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Error {
        Error {
            message: message.to_string(),
            path: Vec::new(),
            offset: None,
            line_column: None,
        }
    }

    // These two describe the value with `Unexpected`'s wording but without its `Display`,
    // which links float formatting (~25 kB of a policy module) for a case that cannot
    // happen here (this reader hands out no floats unless a float was asked for).
    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Error {
        Error::custom(format_args!(
            "invalid type: {}, expected {expected}",
            Unexpected(unexpected)
        ))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Error {
        Error::custom(format_args!(
            "invalid value: {}, expected {expected}",
            Unexpected(unexpected)
        ))
    }
}

struct Unexpected<'a>(de::Unexpected<'a>);

impl fmt::Display for Unexpected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use de::Unexpected as U;
        match self.0 {
            U::Bool(b) => write!(f, "boolean `{b}`"),
            U::Unsigned(i) => write!(f, "integer `{i}`"),
            U::Signed(i) => write!(f, "integer `{i}`"),
            U::Float(_) => f.write_str("a number with a fraction"),
            U::Char(c) => write!(f, "character `{c}`"),
            U::Str(s) => write!(f, "string \"{s}\""),
            U::Bytes(_) => f.write_str("byte array"),
            U::Unit => f.write_str("null"),
            U::Option => f.write_str("Option value"),
            U::NewtypeStruct => f.write_str("newtype struct"),
            U::Seq => f.write_str("array"),
            U::Map => f.write_str("object"),
            U::Enum => f.write_str("enum"),
            U::UnitVariant => f.write_str("unit variant"),
            U::NewtypeVariant => f.write_str("newtype variant"),
            U::TupleVariant => f.write_str("tuple variant"),
            U::StructVariant => f.write_str("struct variant"),
            U::Other(other) => f.write_str(other),
        }
    }
}

impl From<Error> for String {
    fn from(error: Error) -> String {
        error.to_string()
    }
}

type Result<T, E = Error> = core::result::Result<T, E>;

struct Parser<'de> {
    text: &'de str,
    pos: usize,
    depth: usize,
}

impl<'de> Parser<'de> {
    fn error(&self, message: &str) -> Error {
        Error {
            message: message.into(),
            path: Vec::new(),
            offset: Some(self.pos),
            line_column: None,
        }
    }

    /// Gives an error raised by a visitor (which cannot know it) the current position.
    fn here<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|mut e| {
            e.offset.get_or_insert(self.pos);
            e
        })
    }

    // `get` rather than indexing: no panic path, which would link the panic's formatting.
    fn slice(&self, from: usize, to: usize) -> &'de str {
        self.text.get(from..to).unwrap_or_default()
    }

    fn rest(&self) -> &'de [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// The next non-blank byte, not consumed.
    fn next_token(&mut self) -> Result<u8> {
        self.skip_ws();
        self.peek()
            .ok_or_else(|| self.error("unexpected end of JSON"))
    }

    fn expect(&mut self, byte: u8, message: &str) -> Result<()> {
        if self.next_token()? == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    fn keyword(&mut self, word: &str) -> Result<()> {
        if self.rest().starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("JSON nested too deeply"));
        }
        self.pos += 1;
        Ok(())
    }

    /// Reads a number and returns its text and whether it is an integer.
    fn number(&mut self) -> Result<(&'de str, bool)> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let digits = |pos: &mut usize| {
            let from = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos > from
        };
        let mut pos = start + usize::from(bytes.get(start) == Some(&b'-'));
        let int_start = pos;
        let mut integer = true;
        let mut ok =
            digits(&mut pos) && !(bytes.get(int_start) == Some(&b'0') && pos - int_start > 1);
        if ok && bytes.get(pos) == Some(&b'.') {
            pos += 1;
            integer = false;
            ok = digits(&mut pos);
        }
        if ok && matches!(bytes.get(pos), Some(b'e' | b'E')) {
            pos += 1;
            integer = false;
            if matches!(bytes.get(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            ok = digits(&mut pos);
        }
        if !ok {
            return Err(self.error("invalid number"));
        }
        self.pos = pos;
        Ok((self.slice(start, pos), integer))
    }

    /// Reads a string (the opening quote is next); borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'de, str>> {
        self.pos += 1;
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut owned: Option<String> = None;
        let mut run = start;
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                return Err(self.error("unterminated string"));
            };
            match b {
                b'"' => {
                    let tail = self.slice(run, self.pos);
                    self.pos += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(self.slice(run, self.pos));
                    self.pos += 1;
                    let escaped = bytes.get(self.pos).copied();
                    self.pos += 1;
                    let c = match escaped {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(self.error("invalid escape in string")),
                    };
                    s.push(c);
                    run = self.pos;
                }
                0..=0x1f => return Err(self.error("control character in string")),
                _ => self.pos += 1,
            }
        }
    }

    /// Reads the XXXX of `\uXXXX` (and a low surrogate's `\uXXXX` after a high one).
    fn unicode_escape(&mut self) -> Result<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.rest().starts_with(b"\\u") {
                return Err(self.error("unpaired surrogate in string"));
            }
            self.pos += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error("unpaired surrogate in string"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid unicode escape in string"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let hex = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let code = hex.and_then(|h| u32::from_str_radix(h, 16).ok());
        let code = code.ok_or_else(|| self.error("invalid unicode escape in string"))?;
        self.pos += 4;
        Ok(code)
    }
}

/// One JSON value's start: a whole scalar, or the opening bracket of an array or object.
enum Token<'de> {
    Null,
    Bool(bool),
    Str(Cow<'de, str>),
    Unsigned(u64),
    Signed(i64),
    /// A number that is not an integer fitting 64 bits, as its exact text.
    Number(&'de str),
    Array,
    Object,
}

impl<'de> Parser<'de> {
    /// Reads a scalar, or the opening bracket of an array or object.
    fn token(&mut self) -> Result<Token<'de>> {
        Ok(match self.next_token()? {
            b'n' => self.keyword("null").map(|()| Token::Null)?,
            b't' => self.keyword("true").map(|()| Token::Bool(true))?,
            b'f' => self.keyword("false").map(|()| Token::Bool(false))?,
            b'"' => Token::Str(self.string()?),
            b'-' | b'0'..=b'9' => {
                let (text, integer) = self.number()?;
                // Exact: an integer that fits is an integer; anything else (a fraction, an
                // exponent, a huge integer) is handed over as its text, which `Decimal`
                // parses exactly.
                match (integer, text.parse::<u64>(), text.parse::<i64>()) {
                    (true, Ok(n), _) => Token::Unsigned(n),
                    (true, _, Ok(n)) => Token::Signed(n),
                    _ => Token::Number(text),
                }
            }
            b'[' => self.enter().map(|()| Token::Array)?,
            b'{' => self.enter().map(|()| Token::Object)?,
            _ => return Err(self.error("expected a JSON value")),
        })
    }

    /// The error for a value of the wrong type (`expected` is the visitor).
    #[inline(never)]
    fn mismatch(&self, token: Token<'de>, expected: &dyn de::Expected) -> Error {
        let unexpected = match &token {
            Token::Null => de::Unexpected::Unit,
            Token::Bool(b) => de::Unexpected::Bool(*b),
            Token::Str(s) => de::Unexpected::Str(s),
            Token::Unsigned(n) => de::Unexpected::Unsigned(*n),
            Token::Signed(n) => de::Unexpected::Signed(*n),
            Token::Number(_) => de::Unexpected::Other("a number with a fraction"),
            Token::Array => de::Unexpected::Seq,
            Token::Object => de::Unexpected::Map,
        };
        <Error as de::Error>::invalid_type(unexpected, expected)
    }

    /// Reads a value and throws it away (unknown fields).
    fn skip_value(&mut self) -> Result<()> {
        let (bracket, object) = match self.token()? {
            Token::Array => (b']', false),
            Token::Object => (b'}', true),
            _ => return Ok(()),
        };
        let mut first = true;
        while self.next_token()? != bracket {
            if !first {
                self.expect(
                    b',',
                    if object {
                        "expected `,` or `}` in object"
                    } else {
                        "expected `,` or `]` in array"
                    },
                )?;
            }
            first = false;
            if object {
                if self.next_token()? != b'"' {
                    return Err(self.error("expected a string key"));
                }
                self.string()?;
                self.expect(b':', "expected `:` after an object key")?;
            }
            self.skip_value()?;
        }
        self.close(bracket)
    }

    /// Reads the closing bracket of the array or object the visitor has read.
    fn close(&mut self, bracket: u8) -> Result<()> {
        let message = if bracket == b']' {
            "expected `,` or `]` in array"
        } else {
            "expected `,` or `}` in object"
        };
        self.expect(bracket, message)?;
        self.depth -= 1;
        Ok(())
    }
}

impl<'de> de::Deserializer<'de> for &mut Parser<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // The parsing is in `token` and `close`, which are not generic: only this
        // dispatch is compiled once per visitor, which keeps policy modules small.
        let result = match self.token()? {
            Token::Null => visitor.visit_unit(),
            Token::Bool(b) => visitor.visit_bool(b),
            Token::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Token::Str(Cow::Owned(s)) => visitor.visit_string(s),
            Token::Unsigned(n) => visitor.visit_u64(n),
            Token::Signed(n) => visitor.visit_i64(n),
            Token::Number(text) => visitor.visit_borrowed_str(text),
            Token::Array => {
                let value = visitor.visit_seq(Seq {
                    parser: &mut *self,
                    index: 0,
                });
                let value = self.here(value)?;
                self.close(b']')?;
                Ok(value)
            }
            Token::Object => {
                let value = visitor.visit_map(Map {
                    parser: &mut *self,
                    first: true,
                    key: None,
                });
                let value = self.here(value)?;
                self.close(b'}')?;
                Ok(value)
            }
        };
        self.here(result)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let b'-' | b'0'..=b'9' = self.next_token()? {
            let (text, _) = self.number()?;
            let value = text
                .parse::<f64>()
                .map_err(|_| self.error("invalid number"))?;
            self.here(visitor.visit_f64(value))
        } else {
            self.deserialize_any(visitor)
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.next_token()? == b'n' {
            self.keyword("null")?;
            self.here(visitor.visit_none())
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.next_token()? {
            // A unit variant: `"monday"`.
            b'"' => {
                let name = self.string()?;
                self.here(visitor.visit_enum(name.into_deserializer()))
            }
            // Any other variant: `{"name": value}`.
            b'{' => {
                self.enter()?;
                if self.next_token()? != b'"' {
                    return Err(self.error("expected a string key"));
                }
                let value = visitor.visit_enum(Variant { parser: &mut *self });
                let value = self.here(value)?;
                self.close(b'}')?;
                Ok(value)
            }
            _ => Err(self.error("expected a string or an object for an enum")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    // A type that knows what it wants gets a dispatch with only the matching visitor call
    // (and one shared error path), not the whole of `deserialize_any`: with one such
    // function per visitor type, this is what keeps config parsing small.

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.token()? {
            Token::Bool(b) => visitor.visit_bool(b),
            other => Err(self.mismatch(other, &visitor)),
        };
        self.here(result)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.token()? {
            Token::Unsigned(n) => visitor.visit_u64(n),
            Token::Signed(n) => visitor.visit_i64(n),
            other => Err(self.mismatch(other, &visitor)),
        };
        self.here(result)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.token()? {
            Token::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Token::Str(Cow::Owned(s)) => visitor.visit_string(s),
            other => Err(self.mismatch(other, &visitor)),
        };
        self.here(result)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.token()? {
            Token::Array => {
                let value = visitor.visit_seq(Seq {
                    parser: &mut *self,
                    index: 0,
                });
                let value = self.here(value)?;
                self.close(b']').map(|()| value)
            }
            other => Err(self.mismatch(other, &visitor)),
        };
        self.here(result)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.token()? {
            Token::Object => {
                let value = visitor.visit_map(Map {
                    parser: &mut *self,
                    first: true,
                    key: None,
                });
                let value = self.here(value)?;
                self.close(b'}').map(|()| value)
            }
            other => Err(self.mismatch(other, &visitor)),
        };
        self.here(result)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.token()? {
            Token::Null => visitor.visit_unit(),
            other => Err(self.mismatch(other, &visitor)),
        };
        self.here(result)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit_struct tuple tuple_struct
    }
}

struct Seq<'a, 'de> {
    parser: &'a mut Parser<'de>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.parser.next_token()? {
            b']' => return Ok(None),
            b',' if self.index > 0 => self.parser.pos += 1,
            _ if self.index > 0 => return Err(self.parser.error("expected `,` or `]` in array")),
            _ => {}
        }
        let index = self.index;
        self.index += 1;
        seed.deserialize(&mut *self.parser)
            .map(Some)
            .map_err(|e| e.within(Segment::Index(index)))
    }
}

struct Map<'a, 'de> {
    parser: &'a mut Parser<'de>,
    first: bool,
    /// The current key, for error paths.
    key: Option<Cow<'de, str>>,
}

impl<'de> de::MapAccess<'de> for Map<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.parser.next_token()? {
            b'}' => return Ok(None),
            b',' if !self.first => {
                self.parser.pos += 1;
                self.parser.next_token()?;
            }
            _ if !self.first => return Err(self.parser.error("expected `,` or `}` in object")),
            _ => {}
        }
        self.first = false;
        if self.parser.peek() != Some(b'"') {
            return Err(self.parser.error("expected a string key"));
        }
        let key = self.parser.string()?;
        let value = match &key {
            Cow::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::<Error>::new(k)),
            Cow::Owned(k) => seed.deserialize(StringDeserializer::<Error>::new(k.clone())),
        };
        self.key = Some(key);
        self.parser.here(value).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.parser
            .expect(b':', "expected `:` after an object key")?;
        seed.deserialize(&mut *self.parser).map_err(|e| {
            let key = self.key.take().unwrap_or_default();
            e.within(Segment::Key(key.into_owned()))
        })
    }
}

struct Variant<'a, 'de> {
    parser: &'a mut Parser<'de>,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let name = self.parser.string()?;
        let value = seed.deserialize(name.into_deserializer());
        let value = self.parser.here(value)?;
        self.parser
            .expect(b':', "expected `:` after an object key")?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(&mut *self.parser)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.parser)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.parser.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.parser.deserialize_any(visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rust_decimal::Decimal;
    use serde::Deserialize;

    use super::*;
    use crate::time::{TimeOfDay, Weekday};

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Config {
        tiers: BTreeMap<String, Decimal>,
        #[serde(default)]
        utc_offset_minutes: i32,
        #[serde(default)]
        from: Option<TimeOfDay>,
        #[serde(default)]
        days: Vec<Weekday>,
        #[serde(default)]
        label: String,
        #[serde(default)]
        ratio: f64,
    }

    #[test]
    fn reads_a_config_exactly() {
        let text = r#" { "tiers": {"gold": 10, "silver": 7.5, "bronze": 0.1, "big": 1e2, "neg": -2},
            "utcOffsetMinutes": -60, "from": "15:00", "days": ["monday", "friday"],
            "label": "caf\u00e9 \"A\"\n\ud83d\ude00", "ratio": 0.25, "ignored": [1, {"x": null}, true] } "#;
        let config: Config = from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.tiers["gold"], Decimal::from(10));
        assert_eq!(config.tiers["silver"], Decimal::new(75, 1));
        assert_eq!(config.tiers["bronze"].to_string(), "0.1");
        assert_eq!(config.tiers["big"], Decimal::from(100));
        assert_eq!(config.tiers["neg"], Decimal::from(-2));
        assert_eq!(config.utc_offset_minutes, -60);
        assert_eq!(config.from.map(TimeOfDay::minutes), Some(900));
        assert_eq!(config.days, [Weekday::Monday, Weekday::Friday]);
        assert_eq!(config.label, "café \"A\"\n😀");
        assert_eq!(config.ratio, 0.25);
    }

    #[test]
    fn errors_name_the_place_and_the_problem() {
        let err = |text| {
            from_str::<Config>(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(err("{}"), "missing field `tiers` (line 1, column 2)");
        assert_eq!(
            err(r#"{"tiers": {"gold": "ten"}}"#),
            "tiers.gold: invalid value: string \"ten\", expected a Decimal type representing \
             a fixed-point number (line 1, column 25)"
        );
        assert!(
            err(r#"{"tiers": {}, "from": "25:00"}"#).starts_with("from: time of day \"25:00\"")
        );
        assert!(
            err(r#"{"tiers": {}, "days": ["monday", "someday"]}"#)
                .starts_with("days[1]: unknown variant `someday`")
        );
        assert!(err("{\"tiers\": {}}\n x").starts_with("trailing characters"));
        assert!(err(r#"{"tiers": {"a": 01}}"#).contains("invalid number"));
        assert!(err(r#"{"tiers": {"a": 1,}}"#).contains("expected a string key"));
        assert!(err(r#"{"tiers": {"a": 1} "x": 1}"#).contains("expected `,` or `}`"));
        assert!(err("").contains("unexpected end"));
        let deep = from_str::<de::IgnoredAny>(&"[".repeat(100))
            .err()
            .map(|e| e.to_string());
        assert!(deep.is_some_and(|e| e.contains("JSON nested too deeply (line 1, column 65)")));
    }

    #[test]
    fn big_integers_and_integers_reach_their_types() {
        assert_eq!(
            from_str::<Decimal>("123456789012345678901234").map(|d| d.to_string()),
            Ok("123456789012345678901234".into())
        );
        assert_eq!(from_str::<u8>("255"), Ok(255));
        assert!(from_str::<u8>("256").is_err());
        assert_eq!(from_str::<i64>("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(from_str::<Option<u32>>("null"), Ok(None));
        assert_eq!(from_str::<&str>(r#""borrowed""#), Ok("borrowed"));
    }
}
