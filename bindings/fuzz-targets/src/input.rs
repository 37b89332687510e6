//! A reader over the fuzzer's bytes: every choice a target makes is taken from them, and an
//! exhausted input answers zeros (the honest, default choice), so every input is valid.

/// The fuzzer's bytes, read front to back.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads `data`.
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, 0 when none is left.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A length-prefixed (u16) piece of text, lossily UTF-8.
    pub fn text(&mut self) -> String {
        let n = usize::from(self.u16());
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }

    /// Whatever is left, lossily UTF-8.
    pub fn rest_text(&mut self) -> String {
        let n = self.data.len();
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }

    /// One of `items`, chosen by the next byte (`None` when `items` is empty).
    pub fn pick<'b, T>(&mut self, items: &'b [T]) -> Option<&'b T> {
        let b = usize::from(self.byte());
        items.get(b % items.len().max(1))
    }
}
