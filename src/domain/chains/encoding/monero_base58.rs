//! Monero's base58: the Bitcoin alphabet applied block-wise. Every full
//! 8-byte block becomes exactly 11 characters (left-padded with `1`), and a
//! final partial block of n bytes becomes `ENCODED_BLOCK_SIZES[n]` characters.

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Encoded length of a block of 0 to 8 bytes.
const ENCODED_BLOCK_SIZES: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];
const FULL_BLOCK: usize = 8;
const FULL_ENCODED_BLOCK: usize = 11;

/// Why a string is not Monero base58.
pub(crate) type Error = &'static str;

/// Encodes bytes in Monero base58.
pub(crate) fn encode(data: &[u8]) -> String {
    let mut out =
        String::with_capacity(data.len() / FULL_BLOCK * FULL_ENCODED_BLOCK + FULL_ENCODED_BLOCK);
    for block in data.chunks(FULL_BLOCK) {
        let mut num = block.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let size = ENCODED_BLOCK_SIZES[block.len()];
        let mut chars = vec![ALPHABET[0]; size];
        for slot in chars.iter_mut().rev() {
            *slot = ALPHABET[(num % 58) as usize];
            num /= 58;
        }
        out.extend(chars.into_iter().map(char::from));
    }
    out
}

/// Decodes Monero base58.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / FULL_ENCODED_BLOCK * FULL_BLOCK + FULL_BLOCK);
    for block in bytes.chunks(FULL_ENCODED_BLOCK) {
        let size = ENCODED_BLOCK_SIZES
            .iter()
            .position(|&n| n == block.len())
            .ok_or("length is not a valid block length")?;
        let mut num: u64 = 0;
        for &c in block {
            let digit = ALPHABET
                .iter()
                .position(|&a| a == c)
                .ok_or("character outside the base58 alphabet")?;
            num = num
                .checked_mul(58)
                .and_then(|n| n.checked_add(digit as u64))
                .ok_or("block value overflows")?;
        }
        if size < FULL_BLOCK && num >> (8 * size) != 0 {
            return Err("block value overflows");
        }
        out.extend_from_slice(&num.to_be_bytes()[FULL_BLOCK - size..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_partial_block() {
        for len in 0..=20 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 255) as u8).collect();
            let text = encode(&data);
            assert_eq!(decode(&text), Ok(data));
        }
    }

    #[test]
    fn rejects_bad_blocks() {
        assert!(decode("1").is_err());
        assert!(decode("zzzzzzzzzzz").is_err());
        assert!(decode("zz").is_err());
        assert!(decode("0O").is_err());
    }
}
