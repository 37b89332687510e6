//! Deterministic expansion of the host's random seed.
//!
//! The core draws no randomness itself (DESIGN.md): the host hands each operation 32 bytes
//! from its CSPRNG, and this generator stretches them with SHA-256 in counter mode, a PRF, so
//! an operation may need any number of bytes (rejection sampling for base62) while its tests
//! stay deterministic.

use sha2::{Digest, Sha256};

pub(crate) struct Rng {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Rng {
    pub fn new(seed: [u8; 32]) -> Rng {
        Rng { seed, counter: 0, block: [0; 32], used: 32 }
    }

    fn refill(&mut self) {
        let mut h = Sha256::new();
        h.update(b"keyward-rng-v1");
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        self.block.copy_from_slice(&h.finalize());
        self.counter = self.counter.wrapping_add(1);
        self.used = 0;
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for byte in out.iter_mut() {
            if self.used >= self.block.len() {
                self.refill();
            }
            *byte = self.block.get(self.used).copied().unwrap_or(0);
            self.used += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let (mut a, mut b, mut c) = (Rng::new([1; 32]), Rng::new([1; 32]), Rng::new([2; 32]));
        let (mut x, mut y, mut z) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.fill(&mut x);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x[..32], x[32..64], "blocks differ");
    }
}
