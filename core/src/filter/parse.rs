//! The filter parser: a tokenizer that keeps positions, and recursive descent.

use super::{CmpOp, FieldType, Filter, Literal, Schema};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Op(CmpOp),
    Quoted(String),
    Word(String),
}

fn err(position: usize, message: impl Into<String>) -> Error {
    Error::InvalidFilter { position, message: message.into() }
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '=' | '!' | '<' | '>' | '"')
}

fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        let next = chars.get(i + 1).copied();
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '=' => Tok::Op(CmpOp::Eq),
            '!' if next == Some('=') => {
                i += 1;
                Tok::Op(CmpOp::Ne)
            }
            '<' if next == Some('=') => {
                i += 1;
                Tok::Op(CmpOp::Le)
            }
            '>' if next == Some('=') => {
                i += 1;
                Tok::Op(CmpOp::Ge)
            }
            '<' => Tok::Op(CmpOp::Lt),
            '>' => Tok::Op(CmpOp::Gt),
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(chars.len(), "unterminated string")),
                        Some('"') => break,
                        Some('\\') => match chars.get(i + 1) {
                            Some(&e @ ('"' | '\\')) => {
                                s.push(e);
                                i += 2;
                            }
                            None => return Err(err(chars.len(), "unterminated string")),
                            Some(_) => return Err(err(i, "only \\\" and \\\\ may be escaped")),
                        },
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                Tok::Quoted(s)
            }
            c if is_word_char(c) => {
                let mut s = String::new();
                while let Some(&c) = chars.get(i).filter(|c| is_word_char(**c)) {
                    s.push(c);
                    i += 1;
                }
                out.push((start, Tok::Word(s)));
                continue;
            }
            _ => return Err(err(i, format!("unexpected `{c}`"))),
        };
        out.push((start, tok));
        i += 1;
    }
    Ok(out)
}

struct Parser<'s> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    schema: &'s Schema,
    /// Open parentheses and `NOT`s: bounded, so no filter can exhaust the stack.
    depth: usize,
}

/// Deepest nesting of parentheses and `NOT` a filter may have.
pub const MAX_DEPTH: usize = 32;
/// Longest filter accepted, in characters.
pub const MAX_LEN: usize = 4096;

fn is_keyword(w: &str) -> bool {
    matches!(w, "AND" | "OR" | "NOT")
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }
    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(p, _)| *p)
    }
    fn bump(&mut self) -> Option<(usize, Tok)> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn word_is(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Filter> {
        let mut left = self.and()?;
        while self.word_is("OR") {
            self.bump();
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter> {
        let mut left = self.unary()?;
        loop {
            if self.word_is("AND") {
                self.bump();
            } else if !matches!(self.peek(), Some(Tok::LParen) | Some(Tok::Word(_))) || self.word_is("OR") {
                return Ok(left);
            }
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Filter> {
        let nested = self.word_is("NOT") || self.peek() == Some(&Tok::LParen);
        if nested {
            if self.depth >= MAX_DEPTH {
                return Err(err(self.pos(), format!("nested deeper than {MAX_DEPTH}")));
            }
            self.depth += 1;
        }
        let result = self.unary_inner();
        if nested {
            self.depth -= 1;
        }
        result
    }

    fn unary_inner(&mut self) -> Result<Filter> {
        if self.word_is("NOT") {
            self.bump();
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.bump();
            let inner = self.or()?;
            return match self.bump() {
                Some((_, Tok::RParen)) => Ok(inner),
                Some((p, _)) => Err(err(p, "expected `)`")),
                None => Err(err(self.end, "expected `)`")),
            };
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Filter> {
        let (field_pos, field) = match self.bump() {
            Some((p, Tok::Word(w))) if !is_keyword(&w) => (p, w),
            Some((p, _)) => return Err(err(p, "expected a field name")),
            None => return Err(err(self.end, "expected a field name")),
        };
        let Some(&(name, kind)) = self.schema.iter().find(|(n, _)| *n == field) else {
            let known: Vec<&str> = self.schema.iter().map(|(n, _)| *n).collect();
            return Err(err(field_pos, format!("unknown field `{field}`; fields: {}", known.join(", "))));
        };
        let (op_pos, op) = match self.bump() {
            Some((p, Tok::Op(op))) => (p, op),
            Some((p, _)) => return Err(err(p, "expected a comparison operator")),
            None => return Err(err(self.end, "expected a comparison operator")),
        };
        if kind == FieldType::Bool && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(err(op_pos, format!("`{name}` is a boolean: only `=` and `!=` apply")));
        }
        let (value_pos, value) = match self.bump() {
            Some((p, t @ (Tok::Word(_) | Tok::Quoted(_)))) => (p, t),
            Some((p, _)) => return Err(err(p, "expected a value")),
            None => return Err(err(self.end, "expected a value")),
        };
        let literal = match (kind, value) {
            (FieldType::Bool, Tok::Word(w)) if w == "true" || w == "false" => Literal::Bool(w == "true"),
            (FieldType::Bool, _) => return Err(err(value_pos, format!("`{name}` takes true or false"))),
            (FieldType::Int, Tok::Word(w)) => {
                Literal::Int(w.parse().map_err(|_| err(value_pos, format!("`{name}` takes an integer")))?)
            }
            (FieldType::Int, _) => return Err(err(value_pos, format!("`{name}` takes an integer"))),
            (FieldType::Text, Tok::Word(w) | Tok::Quoted(w)) => match w.strip_suffix('*') {
                Some(prefix) => Literal::Text { text: prefix.to_owned(), prefix: true },
                None => Literal::Text { text: w, prefix: false },
            },
            (FieldType::Text, _) => return Err(err(value_pos, "expected a value")),
        };
        Ok(Filter::Cmp(name, op, literal))
    }
}

/// Parses `text` against the listing's `schema`.
pub fn parse(text: &str, schema: &Schema) -> Result<Filter> {
    if let Some((at, _)) = text.char_indices().nth(MAX_LEN) {
        let position = text.get(..at).map_or(MAX_LEN, |head| head.chars().count());
        return Err(err(position, format!("longer than {MAX_LEN} characters")));
    }
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Ok(Filter::All);
    }
    let mut p = Parser { toks, at: 0, end: text.chars().count(), schema, depth: 0 };
    let filter = p.or()?;
    match p.peek() {
        None => Ok(filter),
        Some(_) => Err(err(p.pos(), "unexpected text after the filter")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FieldValue, Fields};
    use super::*;

    const SCHEMA: Schema = &[
        ("service_account", FieldType::Bool),
        ("owned", FieldType::Bool),
        ("status", FieldType::Text),
        ("name", FieldType::Text),
        ("created_at", FieldType::Int),
    ];

    struct Row(&'static str, &'static str, bool, i64);
    impl Fields for Row {
        fn field(&self, name: &str) -> FieldValue<'_> {
            match name {
                "name" => FieldValue::Text(self.0),
                "status" => FieldValue::Text(self.1),
                "service_account" | "owned" => FieldValue::Bool(self.2),
                _ => FieldValue::Int(self.3),
            }
        }
    }

    fn hits(filter: &str) -> Vec<&'static str> {
        let rows =
            [Row("bot-a", "active", true, 10), Row("bot-b", "disabled", true, 20), Row("ann", "active", false, 30)];
        let f = parse(filter, &SCHEMA).unwrap();
        rows.iter().filter(|r| f.matches(*r)).map(|r| r.0).collect()
    }

    fn position(filter: &str) -> usize {
        parse(filter, &SCHEMA).unwrap_err().position().unwrap()
    }

    #[test]
    fn r70_comparisons_precedence_and_prefixes() {
        assert_eq!(hits(""), ["bot-a", "bot-b", "ann"]);
        assert_eq!(hits(r#"service_account=true AND status="active""#), ["bot-a"]);
        assert_eq!(hits("status=active OR name=bot-b AND created_at>15"), ["bot-a", "bot-b", "ann"]);
        assert_eq!(hits("(status=active OR name=bot-b) AND created_at>=20"), ["bot-b", "ann"]);
        assert_eq!(hits("NOT status=active AND service_account=true"), ["bot-b"]);
        assert_eq!(hits("NOT (status=active AND service_account=true)"), ["bot-b", "ann"]);
        assert_eq!(hits("name=bot*"), ["bot-a", "bot-b"]);
        assert_eq!(hits(r#"name!="bot*""#), ["ann"]);
        assert_eq!(hits("created_at<20 created_at>5"), ["bot-a"], "side by side is AND");
        assert_eq!(hits("name<b"), ["ann"]);
        assert_eq!(hits("owned != false"), ["bot-a", "bot-b"]);
    }

    #[test]
    fn r70_errors_say_where() {
        assert_eq!(position("colour=red"), 0);
        assert_eq!(position("status=active AND colour=red"), 18);
        assert_eq!(position("service_account<true"), 15);
        assert_eq!(position("service_account=yes"), 16);
        assert_eq!(position("created_at=soon"), 11);
        assert_eq!(position("status="), 7, "ends too early: the filter's length");
        assert_eq!(position("(status=active"), 14);
        assert_eq!(position("status=active)"), 13);
        assert_eq!(position(r#"name="unterminated"#), 18);
        assert_eq!(position("status active"), 7);
        assert_eq!(position("ünïcode=1"), 0);
        assert_eq!(position("name=é AND ?"), 11, "positions count characters, not bytes");
        assert_eq!(position("status=active AND"), 17);
        assert_eq!(position("status=active OR OR x=1"), 17);
    }

    #[test]
    fn r70_r94_deep_or_long_filters_are_refused_not_a_stack_overflow() {
        let deep = format!("{}name=a{}", "(".repeat(20_000), ")".repeat(20_000));
        assert_eq!(position(&deep), MAX_LEN, "too long: refused before parsing");
        let nested = format!("{}name=a{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert_eq!(position(&nested), MAX_DEPTH);
        let nots = format!("{}name=a", "NOT ".repeat(MAX_DEPTH + 1));
        assert_eq!(position(&nots), MAX_DEPTH * 4);
        let fine = format!("{}name=ann{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(hits(&fine), ["ann"]);
    }
}
