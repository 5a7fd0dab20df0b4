//! Path patterns: `*`, `**`, `?`, `[...]` and a trailing `/***`.
//!
//! A pattern is compiled once into the cheapest shape that can decide it
//! (an exact path, a directory subtree, a literal prefix, or a general glob),
//! and matched against raw path bytes without allocating. The shapes other
//! than the general glob let a rule list answer most lookups with a hash
//! table instead of running every glob (see `rules.rs`).

use std::fmt;

/// A compiled glob over bytes.
///
/// `*` matches any run of bytes except `/`, `**` any run including `/`, `?`
/// one byte except `/`, `[...]` one byte of a class (ranges, `!` or `^` to
/// negate; never `/`), and `\` makes the next byte literal. A trailing
/// `/***` matches the directory itself and everything beneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    shape: Shape,
}

/// The compiled form, from cheapest to most general.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// No wildcard: the path must be equal.
    Literal(Vec<u8>),
    /// `ROOT/***` with a literal ROOT: ROOT itself or anything below it.
    Subtree(Vec<u8>),
    /// `PREFIX**` with a literal PREFIX: anything starting with it.
    Prefix(Vec<u8>),
    /// Anything else. With a trailing `/***`, `tokens` ends in `/` `**` and
    /// `base_len` marks where the directory part ends, so the directory
    /// itself is tried as `tokens[..base_len]`.
    Glob {
        tokens: Vec<Token>,
        base_len: Option<usize>,
    },
}

/// One element of a general glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `?`
    AnyByte,
    /// `[...]`, as a 256-bit set with negation already applied and `/` removed.
    Class([u64; 4]),
    /// `*`
    Star,
    /// `**`
    GlobStar,
}

impl Token {
    /// Whether this single-byte token accepts `byte` (stars never get here).
    fn accepts(&self, byte: u8) -> bool {
        match self {
            Token::Byte(b) => *b == byte,
            Token::AnyByte => byte != b'/',
            Token::Class(set) => set[usize::from(byte >> 6)] & (1 << (byte & 63)) != 0,
            Token::Star | Token::GlobStar => false,
        }
    }
}

/// Where a pattern is malformed and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// Byte offset in the pattern.
    pub position: usize,
    /// What is wrong.
    pub kind: PatternErrorKind,
}

/// What is wrong with a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// The pattern is empty.
    Empty,
    /// A path pattern does not start with `/`.
    NotAbsolute,
    /// A `[` has no closing `]`.
    UnterminatedClass,
    /// A range in a class runs backwards, like `[z-a]`.
    BackwardRange,
    /// The pattern ends with a lone `\`.
    TrailingEscape,
}

impl fmt::Display for PatternErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PatternErrorKind::Empty => "the pattern is empty",
            PatternErrorKind::NotAbsolute => "a path pattern must start with `/`",
            PatternErrorKind::UnterminatedClass => "`[` has no closing `]`",
            PatternErrorKind::BackwardRange => "the range in `[...]` runs backwards",
            PatternErrorKind::TrailingEscape => "the pattern ends with a lone `\\`",
        })
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.position)
    }
}

impl std::error::Error for PatternError {}

impl Pattern {
    /// Compiles a path pattern, which must be non-empty and absolute.
    pub fn path(source: &[u8]) -> Result<Pattern, PatternError> {
        match source.first() {
            None => Err(PatternError {
                position: 0,
                kind: PatternErrorKind::Empty,
            }),
            Some(b'/') => Pattern::new(source),
            Some(_) => Err(PatternError {
                position: 0,
                kind: PatternErrorKind::NotAbsolute,
            }),
        }
    }

    /// Compiles any glob, absolute or not (abstract socket names are not).
    pub fn new(source: &[u8]) -> Result<Pattern, PatternError> {
        if source.is_empty() {
            return Err(PatternError {
                position: 0,
                kind: PatternErrorKind::Empty,
            });
        }
        let (mut tokens, subtree) = tokenize(source)?;
        let base_len = subtree.then(|| tokens.len() - 2);
        let base = &tokens[..base_len.unwrap_or(tokens.len())];
        let literal = |toks: &[Token]| -> Option<Vec<u8>> {
            toks.iter()
                .map(|t| match t {
                    Token::Byte(b) => Some(*b),
                    _ => None,
                })
                .collect()
        };
        let shape = if let Some(bytes) = literal(base) {
            if subtree {
                Shape::Subtree(bytes)
            } else {
                Shape::Literal(bytes)
            }
        } else if let (false, Some((Token::GlobStar, head))) = (subtree, base.split_last()) {
            match literal(head) {
                Some(bytes) => Shape::Prefix(bytes),
                None => Shape::Glob { tokens, base_len },
            }
        } else {
            tokens.shrink_to_fit();
            Shape::Glob { tokens, base_len }
        };
        Ok(Pattern { shape })
    }

    /// Whether `path` matches.
    pub fn matches(&self, path: &[u8]) -> bool {
        match &self.shape {
            Shape::Literal(bytes) => path == bytes.as_slice(),
            Shape::Subtree(root) => is_in_subtree(root, path),
            Shape::Prefix(prefix) => path.starts_with(prefix),
            Shape::Glob { tokens, base_len } => {
                base_len.is_some_and(|n| glob_match(&tokens[..n], path)) || glob_match(tokens, path)
            }
        }
    }

    /// The path, when the pattern has no wildcard.
    pub fn as_literal(&self) -> Option<&[u8]> {
        match &self.shape {
            Shape::Literal(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The directory, when the pattern is a literal directory followed by `/***`.
    pub fn as_subtree(&self) -> Option<&[u8]> {
        match &self.shape {
            Shape::Subtree(root) => Some(root),
            _ => None,
        }
    }

    /// The literal directory every match starts with: the bytes before the
    /// first wildcard, up to and including their last `/` (empty if none).
    pub(crate) fn literal_directory(&self) -> Vec<u8> {
        let mut literal: Vec<u8> = match &self.shape {
            Shape::Literal(bytes) | Shape::Subtree(bytes) | Shape::Prefix(bytes) => bytes.clone(),
            Shape::Glob { tokens, .. } => tokens
                .iter()
                .map_while(|t| match t {
                    Token::Byte(b) => Some(*b),
                    _ => None,
                })
                .collect(),
        };
        let keep = literal
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |i| i + 1);
        literal.truncate(keep);
        literal
    }

    /// The prefix, when the pattern is a literal followed by `**`.
    pub fn as_prefix(&self) -> Option<&[u8]> {
        match &self.shape {
            Shape::Prefix(prefix) => Some(prefix),
            _ => None,
        }
    }
}

/// `root` itself, or anything below it (`root/...`).
fn is_in_subtree(root: &[u8], path: &[u8]) -> bool {
    path.strip_prefix(root)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

/// Splits a pattern into tokens; the flag says it ended in `/***`, in which
/// case the tokens end with `/` `**`.
fn tokenize(source: &[u8]) -> Result<(Vec<Token>, bool), PatternError> {
    let mut tokens = Vec::with_capacity(source.len());
    let mut subtree = false;
    let mut i = 0;
    while i < source.len() {
        match source[i] {
            b'*' => {
                let run = source[i..].iter().take_while(|&&b| b == b'*').count();
                subtree = run == 3
                    && i + run == source.len()
                    && tokens.last() == Some(&Token::Byte(b'/'));
                tokens.push(if run == 1 {
                    Token::Star
                } else {
                    Token::GlobStar
                });
                i += run;
            }
            b'?' => {
                tokens.push(Token::AnyByte);
                i += 1;
            }
            b'[' => {
                let (set, next) = parse_class(source, i)?;
                tokens.push(Token::Class(set));
                i = next;
            }
            b'\\' => {
                let Some(&b) = source.get(i + 1) else {
                    return Err(PatternError {
                        position: i,
                        kind: PatternErrorKind::TrailingEscape,
                    });
                };
                // `\xNN` is the byte NN, the form reports print for bytes
                // that are not text, so a suggested rule can be pasted back.
                if let Some(byte) = hex_escape(source, i) {
                    tokens.push(Token::Byte(byte));
                    i += 4;
                    continue;
                }
                tokens.push(Token::Byte(b));
                i += 2;
            }
            b => {
                tokens.push(Token::Byte(b));
                i += 1;
            }
        }
    }
    Ok((tokens, subtree))
}

/// The byte of a `\xNN` escape starting at `at`, if there is one.
fn hex_escape(source: &[u8], at: usize) -> Option<u8> {
    if source.get(at + 1) != Some(&b'x') {
        return None;
    }
    let digits = source.get(at + 2..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u8::from_str_radix(text, 16).ok()
}

/// Parses the class opening at `start` (`[`); returns the set and the index
/// after its `]`. A `]` right after the opening (and negation) is literal.
fn parse_class(source: &[u8], start: usize) -> Result<([u64; 4], usize), PatternError> {
    let unterminated = PatternError {
        position: start,
        kind: PatternErrorKind::UnterminatedClass,
    };
    let mut i = start + 1;
    let negate = matches!(source.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut set = [0u64; 4];
    let mut first = true;
    loop {
        let (low, low_at, after) = match source.get(i) {
            None => return Err(unterminated),
            Some(b']') if !first => break,
            Some(b'\\') => match source.get(i + 1) {
                Some(&b) => (b, i, i + 2),
                None => return Err(unterminated),
            },
            Some(&b) => (b, i, i + 1),
        };
        first = false;
        i = after;
        // `a-z` is a range unless the `-` is last (`[a-]`).
        let high = match (source.get(i), source.get(i + 1)) {
            (Some(b'-'), Some(b'\\')) => match source.get(i + 2) {
                Some(&b) => {
                    i += 3;
                    b
                }
                None => return Err(unterminated),
            },
            (Some(b'-'), Some(&b)) if b != b']' => {
                i += 2;
                b
            }
            _ => low,
        };
        if high < low {
            return Err(PatternError {
                position: low_at,
                kind: PatternErrorKind::BackwardRange,
            });
        }
        for b in low..=high {
            set[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }
    if negate {
        for word in &mut set {
            *word = !*word;
        }
    }
    set[usize::from(b'/' >> 6)] &= !(1 << (b'/' & 63));
    Ok((set, i + 1))
}

/// Matches a whole text against tokens, without allocating.
///
/// Backtracking keeps two resume points: the latest `*` and the latest `**`.
/// A `*` cannot absorb a `/`, and every `/` the pattern consumes outside a
/// `**` is a literal `/`, so once the latest `*` would have to cross a `/`
/// no earlier `*` since the latest `**` can help either: only moving that
/// `**` on can. Earlier `**`s never need revisiting because the latest one
/// can absorb anything they could. The cost is O(pattern × text).
fn glob_match(tokens: &[Token], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // (token index after the star, text index the star has absorbed up to)
    let mut star: Option<(usize, usize)> = None;
    let mut globstar: Option<(usize, usize)> = None;
    loop {
        match tokens.get(p) {
            Some(Token::Star) => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(Token::GlobStar) => {
                globstar = Some((p + 1, t));
                star = None;
                p += 1;
                continue;
            }
            Some(token) if text.get(t).is_some_and(|&b| token.accepts(b)) => {
                p += 1;
                t += 1;
                continue;
            }
            None if t == text.len() => return true,
            Some(_) | None => {}
        }
        if let Some((resume, absorbed)) = star
            && text.get(absorbed).is_some_and(|&b| b != b'/')
        {
            star = Some((resume, absorbed + 1));
            (p, t) = (resume, absorbed + 1);
            continue;
        }
        if let Some((resume, absorbed)) = globstar
            && absorbed < text.len()
        {
            globstar = Some((resume, absorbed + 1));
            star = None;
            (p, t) = (resume, absorbed + 1);
            continue;
        }
        return false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &[u8]) -> bool {
        Pattern::path(pattern.as_bytes()).unwrap().matches(path)
    }

    fn error(pattern: &[u8]) -> PatternError {
        Pattern::path(pattern).unwrap_err()
    }

    #[test]
    fn literal_matches_only_the_exact_path() {
        assert!(matches("/etc/passwd", b"/etc/passwd"));
        assert!(!matches("/etc/passwd", b"/etc/passwd2"));
        assert!(!matches("/etc/passwd", b"/etc"));
    }

    #[test]
    fn star_does_not_cross_slash() {
        assert!(matches("/usr/bin/*", b"/usr/bin/ls"));
        assert!(matches("/usr/bin/*", b"/usr/bin/"));
        assert!(!matches("/usr/bin/*", b"/usr/bin/x/y"));
        assert!(matches("/a/*.c", b"/a/main.c"));
        assert!(!matches("/a/*.c", b"/a/b/main.c"));
    }

    #[test]
    fn double_star_crosses_slash() {
        assert!(matches("/etc/**", b"/etc/a/b/c"));
        assert!(matches("/etc/**", b"/etc/"));
        assert!(!matches("/etc/**", b"/etc"));
        assert!(matches("/usr/**.so", b"/usr/lib/x/libc.so"));
        assert!(!matches("/usr/**.so", b"/usr/lib/x/libc.so.6"));
    }

    #[test]
    fn double_star_then_star_backtracks_across_components() {
        assert!(matches("/**/x*/y", b"/a/xb/c/xd/y"));
        assert!(!matches("/**/x*/y", b"/a/xb/c/d/y"));
        assert!(matches("/a/**/b/*/c", b"/a/b/q/b/r/c"));
    }

    #[test]
    fn question_mark_is_one_byte_but_not_slash() {
        assert!(matches("/tmp/a?c", b"/tmp/abc"));
        assert!(!matches("/tmp/a?c", b"/tmp/a/c"));
        assert!(!matches("/tmp/a?c", b"/tmp/ac"));
    }

    #[test]
    fn class_with_range_and_negation() {
        assert!(matches("/dev/tty[0-9]", b"/dev/tty7"));
        assert!(!matches("/dev/tty[0-9]", b"/dev/ttyS"));
        assert!(matches("/dev/tty[!0-9]", b"/dev/ttyS"));
        assert!(matches("/dev/tty[^0-9]", b"/dev/ttyS"));
        assert!(!matches("/dev/tty[^0-9]", b"/dev/tty3"));
    }

    #[test]
    fn negated_class_never_matches_slash() {
        assert!(!matches("/a[!x]b", b"/a/b"));
    }

    #[test]
    fn class_leading_bracket_and_trailing_dash_are_literal() {
        assert!(matches("/x[]]", b"/x]"));
        assert!(matches("/x[a-]", b"/x-"));
        assert!(matches("/x[!]]", b"/xa"));
        assert!(!matches("/x[!]]", b"/x]"));
    }

    #[test]
    fn hex_escape_names_a_byte() {
        let p = Pattern::path(b"/tmp/a\\xffb").unwrap();
        assert!(p.matches(b"/tmp/a\xffb"));
        assert!(!p.matches(b"/tmp/axffb"));
    }

    #[test]
    fn backslash_escapes_wildcards() {
        assert!(matches(r"/tmp/\*", b"/tmp/*"));
        assert!(!matches(r"/tmp/\*", b"/tmp/a"));
        assert!(matches(r"/tmp/\[x]", b"/tmp/[x]"));
    }

    #[test]
    fn triple_star_matches_directory_itself_and_below() {
        assert!(matches("/tmp/***", b"/tmp"));
        assert!(matches("/tmp/***", b"/tmp/"));
        assert!(matches("/tmp/***", b"/tmp/a/b"));
        assert!(!matches("/tmp/***", b"/tmpfoo"));
        assert!(!matches("/tmp/***", b"/tm"));
    }

    #[test]
    fn triple_star_after_glob_matches_directory_itself_and_below() {
        assert!(matches("/home/*/***", b"/home/user"));
        assert!(matches("/home/*/***", b"/home/user/.cache/x"));
        assert!(!matches("/home/*/***", b"/home"));
    }

    #[test]
    fn root_triple_star_matches_everything() {
        assert!(matches("/***", b"/"));
        assert!(matches("/***", b"/a/b"));
    }

    #[test]
    fn non_utf8_bytes_match_literally_and_by_wildcard() {
        let p = Pattern::path(b"/tmp/\xff*").unwrap();
        assert!(p.matches(b"/tmp/\xff\xfe"));
        assert!(!p.matches(b"/tmp/\xfe"));
        assert!(matches("/tmp/?", b"/tmp/\x80"));
    }

    #[test]
    fn compiles_to_the_cheapest_shape() {
        assert_eq!(
            Pattern::path(b"/a/b").unwrap().as_literal(),
            Some(&b"/a/b"[..])
        );
        assert_eq!(
            Pattern::path(b"/a/***").unwrap().as_subtree(),
            Some(&b"/a"[..])
        );
        assert_eq!(
            Pattern::path(b"/a/**").unwrap().as_prefix(),
            Some(&b"/a/"[..])
        );
        let glob = Pattern::path(b"/a/*").unwrap();
        assert!(glob.as_literal().is_none() && glob.as_prefix().is_none());
    }

    #[test]
    fn literal_directory_stops_at_first_wildcard() {
        let dir = |p: &[u8]| Pattern::path(p).unwrap().literal_directory();
        assert_eq!(dir(b"/usr/lib/*.so"), b"/usr/lib/");
        assert_eq!(dir(b"/usr/li?/x"), b"/usr/");
        assert_eq!(dir(b"/**"), b"/");
        assert_eq!(dir(br"/a\*/b*"), b"/a*/");
    }

    #[test]
    fn escaped_triple_star_is_not_a_subtree() {
        let p = Pattern::path(br"/tmp/\***").unwrap();
        assert!(p.as_subtree().is_none());
        assert!(p.matches(b"/tmp/*x/y"));
        assert!(!p.matches(b"/tmp"));
    }

    #[test]
    fn rejects_empty_and_relative() {
        assert_eq!(error(b"").kind, PatternErrorKind::Empty);
        assert_eq!(error(b"tmp/x").kind, PatternErrorKind::NotAbsolute);
    }

    #[test]
    fn rejects_unterminated_class_at_bracket() {
        assert_eq!(error(b"/a/[bc").position, 3);
        assert_eq!(error(b"/a/[bc").kind, PatternErrorKind::UnterminatedClass);
    }

    #[test]
    fn rejects_backward_range() {
        let e = error(b"/a[z-a]");
        assert_eq!((e.position, e.kind), (3, PatternErrorKind::BackwardRange));
    }

    #[test]
    fn rejects_trailing_backslash() {
        let e = error(b"/a\\");
        assert_eq!((e.position, e.kind), (2, PatternErrorKind::TrailingEscape));
    }

    /// A slow, obviously correct matcher to check the fast one against.
    fn reference(p: &[Token], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((Token::Star, rest)) => (0..=t.len())
                .take_while(|&n| n == 0 || t[n - 1] != b'/')
                .any(|n| reference(rest, &t[n..])),
            Some((Token::GlobStar, rest)) => (0..=t.len()).any(|n| reference(rest, &t[n..])),
            Some((tok, rest)) => {
                t.first().is_some_and(|&b| tok.accepts(b)) && reference(rest, &t[1..])
            }
        }
    }

    #[test]
    fn fast_glob_agrees_with_reference_on_small_alphabet() {
        // Every pattern and text up to a few symbols over {a, /, *, **, ?}.
        let pieces: [&[u8]; 5] = [b"a", b"/", b"*", b"**", b"?"];
        let texts: Vec<Vec<u8>> = (0..=5u32)
            .flat_map(|len| {
                (0..2u32.pow(len)).map(move |bits| {
                    (0..len)
                        .map(|i| if bits >> i & 1 == 1 { b'/' } else { b'a' })
                        .collect()
                })
            })
            .collect();
        let mut patterns = vec![Vec::new()];
        for _ in 0..4 {
            let grown: Vec<Vec<u8>> = patterns
                .iter()
                .flat_map(|p| {
                    pieces
                        .iter()
                        .map(move |piece| [p.as_slice(), piece].concat())
                })
                .collect();
            patterns.extend(grown);
        }
        for pattern in patterns.iter().filter(|p| !p.is_empty()) {
            let (tokens, _) = tokenize(pattern).unwrap();
            for text in &texts {
                assert_eq!(
                    glob_match(&tokens, text),
                    reference(&tokens, text),
                    "pattern {:?} text {:?}",
                    String::from_utf8_lossy(pattern),
                    String::from_utf8_lossy(text)
                );
            }
        }
    }
}
