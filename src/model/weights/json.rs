//! The little JSON the safetensors header needs: a string escaper for writing, and a
//! strict, bounded recursive-descent parser for reading (RFC 8259 grammar).
//!
//! Strict: no trailing commas, no comments, no leading zeros, no raw control characters in
//! strings, no lone UTF-16 surrogates, nothing but whitespace after the top-level value.
//! Bounded: nesting deeper than [`MAX_DEPTH`] is refused, so hostile input cannot overflow
//! the stack; the caller bounds the input length (the header is at most 100 MB).

use std::fmt::Write as _;

/// Deepest nesting accepted. A valid header needs 3 (root object → tensor object → shape
/// array); anything far deeper is hostile or garbage.
const MAX_DEPTH: usize = 16;

/// A parsed JSON value. Objects keep their members in document order, duplicates included,
/// so that the caller can report duplicate keys instead of silently keeping one.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Null,
    Bool(bool),
    /// The number's source text, validated against the JSON grammar; see [`Value::as_u64`].
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The number as an exact `u64`, if it is written as a plain non-negative integer
    /// (`12`, not `12.0`, `1.2e1` or `-0`) that fits.
    pub(super) fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(text) if text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Where and why the text is not valid JSON. `at` is a byte offset into the text.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonError {
    pub at: usize,
    pub what: String,
}

/// Appends `s` to `out` as a JSON string literal, quotes included. Non-ASCII characters
/// are written as UTF-8 (valid JSON); `"`, `\` and control characters are escaped.
pub(super) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                write!(out, "\\u{:04x}", c as u32).expect("writing to a String cannot fail");
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses `text` as one JSON value followed only by whitespace.
pub(super) fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.skip_whitespace();
    let value = p.value(0)?;
    p.skip_whitespace();
    if p.i != p.s.len() {
        return Err(p.error("unexpected text after the end of the JSON value"));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn error(&self, what: impl Into<String>) -> JsonError {
        JsonError {
            at: self.i,
            what: what.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected '{}' here", byte as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            None => Err(self.error("unexpected end of text, expected a value")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => {
                Err(self
                    .error("expected a value (object, array, string, number, true, false or null)"))
            }
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(value)
        } else {
            Err(self.error(format!("expected '{word}'")))
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.check_depth(depth)?;
        self.expect(b'{')?;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a quoted object key"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':')?;
            self.skip_whitespace();
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}' after an object member")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.check_depth(depth)?;
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' after an array item")),
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as text.
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return Err(self.error("numbers must not have leading zeros"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.require_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.require_digits()?;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).expect("number bytes are ASCII");
        Ok(Value::Number(text.to_owned()))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn require_digits(&mut self) -> Result<(), JsonError> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.error("expected a digit"));
        }
        self.digits();
        Ok(())
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            // Copy the run of plain bytes up to the next quote, backslash or control byte.
            let run_start = self.i;
            while self
                .peek()
                .is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20)
            {
                self.i += 1;
            }
            // The input is a &str and the run stops only at ASCII bytes, so it is UTF-8.
            out.push_str(std::str::from_utf8(&self.s[run_start..self.i]).expect("run is UTF-8"));
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    return Err(self.error("raw control character in a string (must be escaped)"));
                }
            }
        }
    }

    /// One escape sequence after its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.i += 1;
                return self.unicode_escape(out);
            }
            _ => return Err(self.error("invalid escape sequence")),
        };
        self.i += 1;
        out.push(c);
        Ok(())
    }

    /// `\uXXXX` (the `\u` already consumed), joining a UTF-16 surrogate pair if present.
    fn unicode_escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.s[self.i..].starts_with(b"\\u") {
                    return Err(self.error("high surrogate not followed by a low surrogate"));
                }
                self.i += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("high surrogate not followed by a low surrogate"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone low surrogate")),
            code => code,
        };
        out.push(char::from_u32(code).expect("surrogates were handled above"));
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| (b as char).to_digit(16))
                .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
            code = code * 16 + digit;
            self.i += 1;
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(members: &[(&str, Value)]) -> Value {
        Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn parses_a_header_shaped_document() {
        let text = r#" {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                       "__metadata__": {"k": "v"}}   "#;
        let num = |s: &str| Value::Number(s.into());
        let expected = obj(&[
            (
                "w",
                obj(&[
                    ("dtype", Value::String("F32".into())),
                    ("shape", Value::Array(vec![num("2"), num("3")])),
                    ("data_offsets", Value::Array(vec![num("0"), num("24")])),
                ]),
            ),
            ("__metadata__", obj(&[("k", Value::String("v".into()))])),
        ]);
        assert_eq!(parse(text), Ok(expected));
    }

    #[test]
    fn keeps_duplicate_keys_in_order() {
        let v = parse(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(
            v,
            obj(&[
                ("a", Value::Number("1".into())),
                ("a", Value::Number("2".into()))
            ])
        );
    }

    #[test]
    fn scalars_and_numbers() {
        assert_eq!(parse("true"), Ok(Value::Bool(true)));
        assert_eq!(parse("false"), Ok(Value::Bool(false)));
        assert_eq!(parse("null"), Ok(Value::Null));
        for good in ["0", "-0", "12", "-3.25", "1e9", "2.5E-3", "7e+2"] {
            assert_eq!(parse(good), Ok(Value::Number(good.into())), "{good}");
        }
        assert_eq!(
            parse("18446744073709551615").unwrap().as_u64(),
            Some(u64::MAX)
        );
        assert_eq!(parse("18446744073709551616").unwrap().as_u64(), None);
        assert_eq!(parse("12.0").unwrap().as_u64(), None);
        assert_eq!(parse("-1").unwrap().as_u64(), None);
        assert_eq!(parse("\"1\"").unwrap().as_u64(), None);
    }

    #[test]
    fn string_escapes_and_unicode() {
        let v = parse(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83c\udfb5""#).unwrap();
        assert_eq!(v, Value::String("a\"b\\c/d\u{8}\u{c}\n\r\té🎵".into()));
        assert_eq!(parse("\"héllo 🎵\""), Ok(Value::String("héllo 🎵".into())));
    }

    #[test]
    fn writer_output_parses_back_to_the_same_string() {
        for s in [
            "",
            "plain",
            "quote\" back\\slash",
            "ctrl \u{0}\u{1f}\n\t\r",
            "ünï 🎵",
            "\u{7f}",
        ] {
            let mut out = String::new();
            write_string(&mut out, s);
            assert_eq!(parse(&out), Ok(Value::String(s.into())), "{out}");
        }
    }

    #[test]
    fn rejects_malformed_text_with_a_position() {
        let bad = [
            ("", 0),
            ("{", 1),
            ("{\"a\" 1}", 5),
            ("{\"a\":1,}", 7),
            ("[1,]", 3),
            ("[1 2]", 3),
            ("{a:1}", 1),
            ("01", 1),
            ("1.", 2),
            ("-", 1),
            ("1e", 2),
            ("tru", 0),
            ("\"abc", 4),
            ("\"a\u{1}b\"", 2),
            ("\"\\x\"", 2),
            ("\"\\u12G4\"", 5),
            ("\"\\ud800\"", 7),
            ("\"\\ud800\\u0041\"", 13),
            ("\"\\udc00\"", 7),
            ("{} x", 3),
            ("{}{}", 2),
            ("nul", 0),
        ];
        for (text, at) in bad {
            let err = parse(text).expect_err(text);
            assert_eq!(err.at, at, "{text:?}: {}", err.what);
        }
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing_the_stack() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(100_000);
        let err = parse(&deep).unwrap_err();
        assert!(err.what.contains("nesting"), "{}", err.what);
    }
}
