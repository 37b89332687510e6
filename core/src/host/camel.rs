//! JavaScript's key casing, applied while serialising (API.md "Conventions across hosts": the
//! fields of returned objects are camelCase): [`Camel`] wraps a value so that any serde
//! serializer —
//! `serde_json` writing the JSON text both npm packages read — writes its struct fields and map
//! keys in camelCase, in the one pass that writes the value.
//! Records keep one set of serde attributes (snake_case, as stored and as Python and Rust see
//! them); no intermediate `Value` is built and re-keyed.

use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, SerializeTuple, SerializeTupleStruct};
use serde::ser::{SerializeTupleVariant, Serializer};

/// `page_size` → `pageSize`.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A value serialised with camelCase struct fields and map keys, at any depth.
pub struct Camel<'a, T: ?Sized>(pub &'a T);

impl<T: Serialize + ?Sized> Serialize for Camel<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(CamelSerializer(serializer))
    }
}

/// A map key: a string key in camelCase, any other key as it is.
struct CamelKey<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for CamelKey<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.serialize(KeyText) {
            Ok(text) => serializer.serialize_str(&camel(&text)),
            Err(_) => self.0.serialize(CamelSerializer(serializer)),
        }
    }
}

struct CamelSerializer<S>(S);

/// Compound serializers that wrap each element in [`Camel`].
struct Each<C>(C);

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> { self.0.$method($($arg),*) })*
    };
}

impl<S: Serializer> Serializer for CamelSerializer<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Each<S::SerializeSeq>;
    type SerializeTuple = Each<S::SerializeTuple>;
    type SerializeTupleStruct = Each<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Each<S::SerializeTupleVariant>;
    type SerializeMap = Each<S::SerializeMap>;
    type SerializeStruct = Each<S::SerializeMap>;
    type SerializeStructVariant = ser::Impossible<S::Ok, S::Error>;

    forward! {
        serialize_bool(v: bool); serialize_i8(v: i8); serialize_i16(v: i16); serialize_i32(v: i32);
        serialize_i64(v: i64); serialize_u8(v: u8); serialize_u16(v: u16); serialize_u32(v: u32);
        serialize_u64(v: u64); serialize_f32(v: f32); serialize_f64(v: f64); serialize_char(v: char);
        serialize_str(v: &str); serialize_bytes(v: &[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Camel(value))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Camel(value))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        // The variant name is a key too (`{"need": ...}`): one word in every type serialised.
        self.0.serialize_newtype_variant(name, index, variant, &Camel(value))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Each)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Each)
    }
    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Each)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0.serialize_tuple_variant(name, index, variant, len).map(Each)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(Each)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self::SerializeStruct, S::Error> {
        // A struct's field names must be `&'static str`; written as a map, they need not be.
        self.0.serialize_map(Some(len)).map(Each)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        // No record has one (tagged enums serialise as structs); a new one fails loudly here.
        Err(ser::Error::custom(format_args!("{name}::{variant}: struct variants are not written in camelCase")))
    }
}

macro_rules! each {
    ($trait:ident, $method:ident $(, $key:ident)?) => {
        impl<C: $trait> $trait for Each<C> {
            type Ok = C::Ok;
            type Error = C::Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
                self.0.$method(&Camel(value))
            }
            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    };
}

each!(SerializeSeq, serialize_element);
each!(SerializeTuple, serialize_element);
each!(SerializeTupleStruct, serialize_field);
each!(SerializeTupleVariant, serialize_field);

impl<C: SerializeMap> SerializeMap for Each<C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        self.0.serialize_key(&CamelKey(key))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.0.serialize_value(&Camel(value))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

impl<C: SerializeMap> ser::SerializeStruct for Each<C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), C::Error> {
        self.0.serialize_entry(&camel(key), &Camel(value))
    }
    fn skip_field(&mut self, _: &'static str) -> Result<(), C::Error> {
        Ok(())
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

/// Reads a map key that is a string; anything else is refused (and then written unchanged).
struct KeyText;

#[derive(Debug)]
struct NotText;

impl std::fmt::Display for NotText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a string key")
    }
}

impl std::error::Error for NotText {}

impl ser::Error for NotText {
    fn custom<T: std::fmt::Display>(_: T) -> NotText {
        NotText
    }
}

macro_rules! not_text {
    ($($method:ident($($ty:ty),*);)*) => {
        $(fn $method(self, $(_: $ty),*) -> Result<String, NotText> { Err(NotText) })*
    };
}

impl Serializer for KeyText {
    type Ok = String;
    type Error = NotText;
    type SerializeSeq = ser::Impossible<String, NotText>;
    type SerializeTuple = ser::Impossible<String, NotText>;
    type SerializeTupleStruct = ser::Impossible<String, NotText>;
    type SerializeTupleVariant = ser::Impossible<String, NotText>;
    type SerializeMap = ser::Impossible<String, NotText>;
    type SerializeStruct = ser::Impossible<String, NotText>;
    type SerializeStructVariant = ser::Impossible<String, NotText>;

    fn serialize_str(self, v: &str) -> Result<String, NotText> {
        Ok(v.to_owned())
    }
    not_text! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32); serialize_i64(i64);
        serialize_u8(u8); serialize_u16(u16); serialize_u32(u32); serialize_u64(u64); serialize_f32(f32);
        serialize_f64(f64); serialize_char(char); serialize_bytes(&[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(&'static str); serialize_unit_variant(&'static str, u32, &'static str);
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, NotText> {
        Err(NotText)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<String, NotText> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, NotText> {
        Err(NotText)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotText> {
        Err(NotText)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotText> {
        Err(NotText)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, NotText> {
        Err(NotText)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotText> {
        Err(NotText)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotText> {
        Err(NotText)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotText> {
        Err(NotText)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotText> {
        Err(NotText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    /// The old way: build a `Value`, then re-key it. Kept here only as the reference.
    fn rekeyed(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (camel(&k), rekeyed(v))).collect::<Map<_, _>>())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(rekeyed).collect()),
            other => other,
        }
    }

    #[test]
    fn camel_case_of_names() {
        assert_eq!(camel("max_token_ttl_days"), "maxTokenTtlDays");
        assert_eq!(camel("principal"), "principal");
    }

    #[test]
    fn records_serialise_in_camel_case_at_any_depth_in_one_pass() {
        let v = json!({"next_page_token": null, "accounts": [{"created_at": 1, "grants": ["models:read"],
                       "details": {"grace_seconds": 5}}], "seat_limit": [1, {"a_b": true}]});
        let text = serde_json::to_string(&Camel(&v)).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(rekeyed(v)));
        let request = crate::StoreRequest::Put { key: "k".into(), value: "{}".into(), expected_version: Some(3) };
        let text = serde_json::to_string(&Camel(&request)).unwrap_or_default();
        assert_eq!(text, r#"{"kind":"put","key":"k","value":"{}","expectedVersion":3}"#);
        let error = crate::Error::invalid("page_size", "bad").to_data();
        let text = serde_json::to_string(&Camel(&error)).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<Value>(&text).ok(),
            Some(rekeyed(serde_json::to_value(&error).unwrap_or_default()))
        );
    }
}
