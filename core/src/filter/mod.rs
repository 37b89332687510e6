//! List filters in the AIP-160 style: comparisons `=`, `!=`, `<`, `>`, `<=`, `>=` on
//! fields, joined by `NOT`, `AND`, `OR` (that precedence) and parentheses; two terms side by
//! side are joined by `AND`, as in AIP-160. Values are quoted strings (`\"` and `\\` escape),
//! bare words, integers and `true`/`false`; a string ending in `*` matches by prefix with `=`
//! (and `!=` negates that). An empty filter matches everything.
//!
//! Each listing declares its fields and their types ([`Schema`]); the parser checks names,
//! operators and values against it, so a bad filter fails before anything is read, with the
//! 0-based position (in Unicode scalar values) of the first offending character, or the
//! filter's length when it ends too early.

mod parse;

pub use parse::parse;

/// The type of a filterable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// `true`/`false`, compared with `=` and `!=` only.
    Bool,
    /// Text; `=` with a final `*` matches by prefix.
    Text,
    /// An integer (timestamps in ms).
    Int,
}

/// The fields a listing can be filtered on.
pub type Schema = &'static [(&'static str, FieldType)];

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

/// A literal in a comparison, typed by its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// Text; `prefix` when it ended in `*` (the `*` removed).
    Text {
        /// The text.
        text: String,
        /// Whether it matches by prefix.
        prefix: bool,
    },
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Matches everything (the empty filter).
    All,
    /// `field op literal`.
    Cmp(&'static str, CmpOp, Literal),
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
}

/// A field's value in a record being filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// Text (an absent text, such as no role, is the empty string).
    Text(&'a str),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// A record that can be filtered.
pub trait Fields {
    /// The value of a field of the listing's schema.
    fn field(&self, name: &str) -> FieldValue<'_>;
}

fn compare<T: Ord + ?Sized>(a: &T, op: CmpOp, b: &T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Gt => a > b,
        CmpOp::Le => a <= b,
        CmpOp::Ge => a >= b,
    }
}

impl Filter {
    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &impl Fields) -> bool {
        match self {
            Filter::All => true,
            Filter::And(a, b) => a.matches(record) && b.matches(record),
            Filter::Or(a, b) => a.matches(record) || b.matches(record),
            Filter::Not(a) => !a.matches(record),
            Filter::Cmp(field, op, literal) => match (record.field(field), literal) {
                (FieldValue::Text(v), Literal::Text { text, prefix: true }) if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                    v.starts_with(text.as_str()) == (*op == CmpOp::Eq)
                }
                (FieldValue::Text(v), Literal::Text { text, .. }) => compare(v, *op, text.as_str()),
                (FieldValue::Int(v), Literal::Int(n)) => compare(&v, *op, n),
                (FieldValue::Bool(v), Literal::Bool(b)) => compare(&v, *op, b),
                // The parser types every literal by its field's schema type.
                _ => false,
            },
        }
    }
}
